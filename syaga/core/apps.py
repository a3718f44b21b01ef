from django.apps import AppConfig

from syaga.core import checks  # noqa: F401 (importing the module registers the project's system checks)


class CoreConfig(AppConfig):
    name = "syaga.core"
    label = "core"
    verbose_name = "Socle"
