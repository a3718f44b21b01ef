from django.apps import AppConfig
from django.utils.module_loading import import_string

# Invoicing prints what the apps above it register: the time sheet after a time-billed invoice.
ANNEX_REGISTER = "invoicing.documents.annexes.annex_register"


class TimetrackingConfig(AppConfig):
    name = "timetracking"
    verbose_name = "Temps (Clockify)"

    def ready(self):
        import_string(ANNEX_REGISTER)(provider="timetracking.selectors.invoice_timesheet_annex")
