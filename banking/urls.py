from django.urls import path

app_name = "banking"
urlpatterns: list = [
    # The Qonto webhook endpoint is added by the banking issue.
]
