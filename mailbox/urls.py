from django.urls import path

from mailbox import views

app_name = "mailbox"
urlpatterns = [
    path("o/<str:token>.gif", views.open_pixel, name="open-pixel"),
]
