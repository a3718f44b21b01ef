from django.urls import path

from banking import views, views_dashboard

app_name = "banking"
urlpatterns: list = [
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("webhooks/qonto/", views.qonto_webhook, name="qonto-webhook"),
    path("qonto/oauth/start/", views.qonto_oauth_start, name="qonto-oauth-start"),
    path("qonto/oauth/callback/", views.qonto_oauth_callback, name="qonto-oauth-callback"),
]
