from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "syaga.core"
    label = "core"
    verbose_name = "Socle"
