from django.contrib.auth.decorators import permission_required
from django.urls import path

from banking import views, views_dashboard

# The bank balance and every receivable: staff users need the permission too (403 without it).
can_read_cash = permission_required("banking.view_cash_dashboard", raise_exception=True)
dashboard = can_read_cash(views_dashboard.dashboard)

app_name = "banking"
urlpatterns: list = [
    path("dashboard/", dashboard, name="dashboard"),
    path("webhooks/qonto/", views.qonto_webhook, name="qonto-webhook"),
    path("qonto/oauth/start/", views.qonto_oauth_start, name="qonto-oauth-start"),
    path("qonto/oauth/callback/", views.qonto_oauth_callback, name="qonto-oauth-callback"),
]
