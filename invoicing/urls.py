from django.urls import path

from invoicing import views

app_name = "invoicing"
urlpatterns = [
    path("invoices/<int:pk>/pdf/", views.invoice_pdf, name="invoice-pdf"),
]
