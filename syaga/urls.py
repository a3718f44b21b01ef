from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("banking/", include("banking.urls")),
    path("invoicing/", include("invoicing.urls")),
    # The mail open-tracking pixel (public, off by default).
    path("m/", include("mailbox.urls")),
]
