from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.module_loading import import_string


class OpsConfig(AppConfig):
    """Running the firm's machine: first start, the first page, the daily cycles and the health check.

    The top floor of the house: it may import every app, and no app imports it.
    """

    name = "syaga.ops"
    label = "ops"
    verbose_name = "Exploitation"
    default = True

    def ready(self):
        # By name: the apps' models are loaded only now (an import at the top would run before them).
        import_string("syaga.ops.wiring.wire")()


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the owner's first page as its index (``INSTALLED_APPS`` names this class)."""

    default = False
    default_site = "syaga.ops.admin_site.BackOfficeSite"
