"""Banking back-office: transactions and their matching, allocations, learned payers, accounts, alerts."""

from decimal import Decimal

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from banking.models import (
    BalanceSnapshot,
    BankAccount,
    BankTransaction,
    MatchStatus,
    OverdueAlert,
    PayerIdentity,
    PaymentAllocation,
    WebhookEvent,
)
from banking.services.allocation import payments_match, suggestion_confirm, transaction_mark_unmatched
from banking.services.matching import clean_payer_name
from banking.services.overdue import overdue_alerts_acknowledge
from banking.services.qonto_sync import BANK_FIELDS
from syaga.core.admin import ReadOnlyMixin
from syaga.core.errors import BusinessError


class PaymentAllocationInline(ReadOnlyMixin, admin.TabularInline):
    model = PaymentAllocation
    fields = ("invoice", "amount", "write_off", "method", "score", "created_by", "created_at")
    readonly_fields = fields
    extra = 0


def candidates_html(tx: BankTransaction, *, buttons: bool, confirm_url: str = "") -> str:
    """The ranked suggestions of a transaction, each with its reasons and (optionally) a confirm button."""
    if not tx.match_candidates:
        return "—"
    rows = []
    for index, candidate in enumerate(tx.match_candidates):
        paid = ", ".join(
            f"{a['invoice']} : {a['amount']} €"
            + (f" (+ {a['write_off']} € passés en perte)" if Decimal(a.get("write_off") or 0) else "")
            for a in candidate.get("allocations", [])
        )
        reasons = format_html_join("", "<li>{}</li>", ((r,) for r in candidate.get("reasons", [])))
        button = ""
        if buttons and tx.match_status != MatchStatus.MATCHED:
            # formaction: the button posts the surrounding admin form (with its CSRF token) to our view
            button = format_html(
                '<button type="submit" class="button" formaction="{}" name="candidate" value="{}">'
                "Confirmer</button>",
                confirm_url,
                index,
            )
        rows.append(
            format_html(
                "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td><td><ul>{}</ul></td><td>{}</td></tr>",
                index + 1,
                paid,
                candidate.get("score", ""),
                reasons,
                button,
            )
        )
    return format_html(
        '<table class="match-candidates"><tr><th>#</th><th>Factures</th><th>Score</th>'
        "<th>Raisons</th><th></th></tr>{}</table>",
        format_html_join("", "{}", ((row,) for row in rows)),
    )


@admin.register(BankTransaction)
class BankTransactionAdmin(admin.ModelAdmin):
    list_display = (
        "settled_at",
        "side",
        "amount",
        "label",
        "reference",
        "match_status",
        "match_score",
        "account",
    )
    list_filter = ("match_status", "side", "status", "operation_type", "account")
    list_select_related = ("account",)
    date_hierarchy = "settled_at"
    search_fields = (
        "label",
        "clean_counterparty_name",
        "reference",
        "transaction_id",
        "counterparty_iban",
        "allocations__invoice__number",
    )
    show_full_result_count = False
    list_per_page = 100
    inlines = [PaymentAllocationInline]
    actions = ["run_matcher", "mark_unmatched"]
    # What the bank says is never edited here; the match is changed through the actions and suggestions.
    readonly_fields = (
        "qonto_id",
        *(f for f in BANK_FIELDS if f not in ("qonto_updated_at", "raw")),
        "match_status",
        "match_score",
        "reasons_display",
        "candidates_display",
        "processed_at",
    )
    fieldsets = (
        (None, {"fields": ("settled_at", "amount", "side", "status", "operation_type", "account")}),
        (
            "Contrepartie",
            {
                "fields": (
                    "label",
                    "clean_counterparty_name",
                    "counterparty_iban",
                    "counterparty_bic",
                    "reference",
                    "note",
                )
            },
        ),
        (
            "Rapprochement",
            {
                "fields": (
                    "match_status",
                    "match_score",
                    "reasons_display",
                    "candidates_display",
                    "processed_at",
                )
            },
        ),
        (
            "Qonto",
            {"fields": ("qonto_id", "transaction_id", "emitted_at", "currency"), "classes": ("collapse",)},
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="raisons")
    def reasons_display(self, obj):
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((r,) for r in obj.match_reasons))
        )

    @admin.display(description="suggestions")
    def candidates_display(self, obj):
        url = reverse("admin:banking_banktransaction_confirm", args=[obj.pk])
        return candidates_html(obj, buttons=True, confirm_url=url)

    def get_urls(self):
        custom = [
            path(
                "suggestions/",
                self.admin_site.admin_view(self.suggestions_view),
                name="banking_banktransaction_suggestions",
            ),
            path(
                "<int:pk>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="banking_banktransaction_confirm",
            ),
        ]
        return custom + super().get_urls()

    def suggestions_view(self, request):
        """Every credit waiting for a person, with its candidates and one button per candidate."""
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        pending = list(
            BankTransaction.objects.filter(match_status=MatchStatus.SUGGESTED)
            .select_related("account")
            .order_by("settled_at", "pk")[:200]
        )
        rows = [
            (
                tx,
                candidates_html(
                    tx,
                    buttons=True,
                    confirm_url=reverse("admin:banking_banktransaction_confirm", args=[tx.pk]),
                ),
            )
            for tx in pending
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Paiements à confirmer",
            "rows": rows,
            "opts": self.model._meta,
            "can_change": self.has_change_permission(request),
        }
        return TemplateResponse(request, "admin/banking/suggestions.html", context)

    def confirm_view(self, request, pk):
        """POST: confirm candidate ``candidate`` of the transaction (or mark it as paying no invoice)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tx = get_object_or_404(BankTransaction, pk=pk)
        back = request.POST.get("next", "")
        # Only back to a page of this site: a forged form must not send the user elsewhere.
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("admin:banking_banktransaction_change", args=[pk])
        if not self.has_change_permission(request, tx):
            self.message_user(
                request, "Vous n'avez pas le droit de rapprocher des paiements.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            if request.POST.get("unmatched"):
                transaction_mark_unmatched(transaction=tx, user=request.user)
                self.message_user(request, f"{tx.transaction_id} : marquée sans facture.", messages.SUCCESS)
            else:
                rows = suggestion_confirm(
                    transaction=tx, candidate_index=int(request.POST.get("candidate", "")), user=request.user
                )
                paid = ", ".join(f"{r.invoice.number} ({r.amount} €)" for r in rows)
                self.message_user(request, f"{tx.transaction_id} : rapprochée de {paid}.", messages.SUCCESS)
        except (BusinessError, ValueError) as exc:
            self.message_user(request, f"{tx.transaction_id} : {exc}", messages.ERROR)
        return HttpResponseRedirect(back)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "suggestions_url": reverse("admin:banking_banktransaction_suggestions"),
            "suggestions_count": BankTransaction.objects.filter(match_status=MatchStatus.SUGGESTED).count(),
        }
        return super().changelist_view(request, extra_context)

    @admin.action(description="Lancer le rapprochement sur les crédits sélectionnés", permissions=["change"])
    def run_matcher(self, request, queryset):
        results = payments_match(transactions=list(queryset.values_list("pk", flat=True)))
        for r in results:
            paid = ", ".join(f"{a['invoice']} {a['amount']} €" for a in r.allocations)
            self.message_user(request, f"{r.transaction_id} : {r.status} ({r.score}) {paid}")
        if not results:
            self.message_user(request, "Aucun crédit à rapprocher dans la sélection.", messages.WARNING)

    @admin.action(
        description="Marquer sans facture (remboursement, intérêts, apport…)", permissions=["change"]
    )
    def mark_unmatched(self, request, queryset):
        for tx in queryset:
            try:
                transaction_mark_unmatched(transaction=tx, user=request.user)
                self.message_user(request, f"{tx.transaction_id} : marquée sans facture.")
            except BusinessError as exc:
                self.message_user(request, f"{tx.transaction_id} : {exc}", messages.ERROR)


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "invoice",
        "client",
        "amount",
        "write_off",
        "method",
        "score",
        "transaction",
        "created_by",
        "created_at",
    )
    list_filter = ("method",)
    list_select_related = ("invoice__client", "transaction", "created_by")
    search_fields = (
        "invoice__number",
        "invoice__client__name",
        "transaction__label",
        "transaction__reference",
    )
    date_hierarchy = "created_at"

    @admin.display(description="client", ordering="invoice__client__name")
    def client(self, obj):
        return obj.invoice.client


@admin.register(PayerIdentity)
class PayerIdentityAdmin(admin.ModelAdmin):
    list_display = ("client", "name", "iban", "normalized_name", "confirmed_at")
    list_select_related = ("client",)
    search_fields = ("name", "normalized_name", "iban", "client__name")
    raw_id_fields = ("client",)
    fields = ("client", "name", "iban", "normalized_name")
    readonly_fields = ("normalized_name",)

    def save_model(self, request, obj, form, change):
        # the lookup key the matcher reads, derived like the learned ones
        obj.normalized_name = clean_payer_name(obj.name)
        obj.iban = obj.iban.replace(" ", "").upper()
        super().save_model(request, obj, form, change)


@admin.register(BankAccount)
class BankAccountAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "iban",
        "balance",
        "authorized_balance",
        "currency",
        "status",
        "main",
        "synced_through",
    )
    search_fields = ("name", "iban", "qonto_id", "slug")
    readonly_fields = (
        "qonto_id",
        "slug",
        "iban",
        "bic",
        "currency",
        "balance",
        "authorized_balance",
        "status",
        "synced_through",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False  # accounts come from Qonto


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("date", "account", "balance")
    list_filter = ("account",)
    list_select_related = ("account",)
    date_hierarchy = "date"
    search_fields = ("account__name", "account__iban")


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_at", "event_type", "event_id", "transaction_qonto_id", "processed_at")
    list_filter = ("event_type",)
    search_fields = ("event_id", "transaction_qonto_id")
    date_hierarchy = "received_at"
    readonly_fields = (
        "event_id",
        "event_type",
        "transaction_qonto_id",
        "payload",
        "received_at",
        "processed_at",
    )


@admin.register(OverdueAlert)
class OverdueAlertAdmin(admin.ModelAdmin):
    list_display = ("invoice", "client", "level", "days_late", "balance_due", "raised_on", "acknowledged")
    list_filter = ("level", "acknowledged")
    list_select_related = ("invoice__client",)
    search_fields = ("invoice__number", "invoice__client__name")
    date_hierarchy = "raised_on"
    readonly_fields = ("invoice", "level", "days_late", "balance_due", "raised_on", "created_at")
    fields = ("invoice", "level", "days_late", "balance_due", "raised_on", "acknowledged", "created_at")
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False  # raised by the daily overdue job

    @admin.display(description="client", ordering="invoice__client__name")
    def client(self, obj):
        return obj.invoice.client

    @admin.action(description="Marquer comme vues", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = overdue_alerts_acknowledge(alerts=queryset)
        self.message_user(request, f"{count} alerte(s) marquée(s) comme vue(s).")
