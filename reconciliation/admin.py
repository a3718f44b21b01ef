"""Stored reconciliations, looked at (never typed in): reports with their counts and score, discrepancies
filtered by kind, side and item."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from reconciliation.models import Discrepancy, DiscrepancyKind, ReconciliationReport, Side
from reconciliation.selectors import discrepancy_counts
from syaga.core.admin import ReadOnlyMixin
from syaga.core.money import format_rate

SHOWN_ON_REPORT = 50


def _moment(value) -> str:
    return f"{timezone.localtime(value):%d/%m/%Y %H:%M}" if value else "—"


def _day(value) -> str:
    return f"{value:%d/%m/%Y}" if value else "—"


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("__str__", "at", "sources", "documents", "discrepancy_count", "score_display")
    list_filter = ("oxygen_checked", "pdf_checked")
    date_hierarchy = "created_at"
    list_per_page = 50
    fieldsets = (
        (
            None,
            {"fields": ("at", "score_display", "consistent", "documents", "discrepancy_count", "duration")},
        ),
        (
            "Sources",
            {
                "fields": (
                    "oxygen_file",
                    "oxygen_checked",
                    "oxygen_period",
                    "oxygen_documents",
                    "oxygen_lines",
                    "oxygen_ignored_lines",
                    "pdf_dir",
                    "pdf_checked",
                    "pdf_files",
                )
            },
        ),
        ("Écarts", {"fields": ("counts_by_kind", "first_discrepancies")}),
    )
    readonly_fields = (
        "at",
        "score_display",
        "consistent",
        "documents",
        "discrepancy_count",
        "duration",
        "oxygen_file",
        "oxygen_checked",
        "oxygen_period",
        "oxygen_documents",
        "oxygen_lines",
        "oxygen_ignored_lines",
        "pdf_dir",
        "pdf_checked",
        "pdf_files",
        "counts_by_kind",
        "first_discrepancies",
    )

    @admin.display(description="le", ordering="created_at")
    def at(self, obj):
        return _moment(obj.created_at)

    @admin.display(description="côtés comparés")
    def sources(self, obj):
        return ", ".join(Side(side).label for side in obj.sides)

    @admin.display(description="score", ordering="score")
    def score_display(self, obj):
        return format_rate(obj.score) if obj.score is not None else "—"

    @admin.display(description="durée")
    def duration(self, obj):
        return f"{obj.duration_ms / 1000:.1f} s".replace(".", ",")

    @admin.display(description="période de l'export")
    def oxygen_period(self, obj):
        if not obj.oxygen_period_start:
            return "—"
        return f"du {_day(obj.oxygen_period_start)} au {_day(obj.oxygen_period_end)}"

    @admin.display(description="écarts par type")
    def counts_by_kind(self, obj):
        counts = discrepancy_counts(obj)
        if not counts:
            return "aucun écart"
        url = reverse("admin:reconciliation_discrepancy_changelist")
        return format_html_join(
            ", ",
            '<a href="{}?report__id__exact={}&kind__exact={}">{} : {}</a>',
            (
                (url, obj.pk, kind, DiscrepancyKind(kind).label, count)
                for kind, count in sorted(counts.items(), key=lambda kv: DiscrepancyKind.values.index(kv[0]))
            ),
        )

    @admin.display(description=f"premiers écarts (au plus {SHOWN_ON_REPORT})")
    def first_discrepancies(self, obj):
        rows = obj.discrepancies.order_by("pk")[:SHOWN_ON_REPORT]
        if not rows:
            return "—"
        url = reverse("admin:reconciliation_discrepancy_changelist")
        table = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    d.number,
                    d.get_kind_display(),
                    d.get_side_display(),
                    d.expected_text(),
                    d.found_text(),
                    d.reason,
                )
                for d in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>numéro</th><th>type</th><th>côté</th><th>attendu (base)</th>"
            "<th>trouvé</th><th>motif</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}?report__id__exact={}">Tous les écarts de ce rapport ({})</a></p>',
            table,
            url,
            obj.pk,
            obj.discrepancy_count,
        )


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("number", "kind", "side", "item", "expected_display", "found_display", "reason", "report")
    list_filter = ("kind", "side", "item")
    list_select_related = ("report",)
    search_fields = ("number", "reason")
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "report",
        "number",
        "kind",
        "side",
        "item",
        "expected_display",
        "found_display",
        "reason",
    )
    readonly_fields = fields

    @admin.display(description="attendu (base)")
    def expected_display(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.expected_text())

    @admin.display(description="trouvé")
    def found_display(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.found_text())
