from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "SYAGA Facturation"
admin.site.site_title = "SYAGA Facturation"
admin.site.index_title = "Back-office"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("banking/", include("banking.urls")),
    # The mail open-tracking pixel (public, off by default).
    path("m/", include("mailbox.urls")),
]
