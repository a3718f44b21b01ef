"""The admin site of the back-office: Django's own, whose index is the owner's first page."""

from django.contrib import admin

from syaga.ops.views import first_page_context


class BackOfficeSite(admin.AdminSite):
    site_header = "SYAGA Facturation"
    site_title = "SYAGA Facturation"
    index_title = "Tableau de bord"
    index_template = "ops/first_page.html"
    # Lists need the width at 1400 px (status, review reason, « reste dû », totals); the first page lists
    # every section, and the breadcrumbs lead back to it.
    enable_nav_sidebar = False

    def index(self, request, extra_context=None):
        """The tiles the user may read (see ``syaga.ops.views.TILES``), then the usual list of models."""
        return super().index(request, extra_context={**first_page_context(request), **(extra_context or {})})
