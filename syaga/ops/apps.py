from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the firm's machine: first start, and later the daily cycles and the health check.

    The top floor of the house: it may import every app, and no app imports it.
    """

    name = "syaga.ops"
    label = "ops"
    verbose_name = "Exploitation"
