"""The machine's record in the admin: each cycle run with its steps, read-only."""

from django.contrib import admin
from django.utils.html import format_html_join

from syaga.core.admin import ReadOnlyMixin
from syaga.ops.models import CycleRun, CycleStep


class CycleStepInline(ReadOnlyMixin, admin.TabularInline):
    model = CycleStep
    fields = (
        "position", "label", "status", "counts_display", "message", "error", "started_at", "finished_at"
    )  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="comptes")
    def counts_display(self, obj):
        return format_html_join(", ", "{} : {}", obj.counts.items()) or "—"


@admin.register(CycleRun)
class CycleRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "kind", "day", "status", "dry_run", "started_at", "finished_at", "holder")
    list_filter = ("kind", "status", "dry_run")
    date_hierarchy = "day"
    inlines = [CycleStepInline]
    fields = ("kind", "day", "status", "dry_run", "started_at", "finished_at", "holder")
    readonly_fields = fields
