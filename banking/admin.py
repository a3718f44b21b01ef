"""Banking back-office: transactions and how they pay invoices, clients' credits, learned payers, accounts.

What a person decides about a credit (allocate it by hand, confirm a suggestion, say it pays no invoice,
undo) goes through one service call each (:mod:`banking.services.decisions`); the views here only read
what was typed and report the outcome, in French, amounts as ``1 234,56 €`` and dates as dd/mm/yyyy.
"""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, Sum
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme

from banking.forms import AllocationForm, ClientCreditApplyForm, ClientCreditRefundForm
from banking.models import (
    ALLOCATED_STATUSES,
    BalanceSnapshot,
    BankAccount,
    BankTransaction,
    ClientCredit,
    ClientCreditMovement,
    MatchEvent,
    MatchStatus,
    OverdueAlert,
    PayerIdentity,
    PaymentAllocation,
    Side,
    WebhookEvent,
)
from banking.services.allocation import payments_match
from banking.services.client_credit import (
    client_credit_apply,
    client_credit_movement_undo,
    client_credit_refund,
)
from banking.services.decisions import (
    suggestion_confirm,
    transaction_allocate,
    transaction_decision_undo,
    transaction_mark_no_invoice,
)
from banking.services.overdue import overdue_alerts_acknowledge
from banking.services.reading import clean_payer_name, norm_iban
from banking.services.reasons import reason_text
from invoicing.models import Client, Invoice
from syaga.core.admin import ReadOnlyMixin
from syaga.core.csv import csv_safe_row
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, format_eur

STATUS_COLOURS = {
    MatchStatus.UNPROCESSED: "#6b7280",
    MatchStatus.UNRECOGNISED: "#b91c1c",
    MatchStatus.SUGGESTED: "#b45309",
    MatchStatus.MATCHED: "#15803d",
    MatchStatus.CONFIRMED: "#1d4ed8",
    MatchStatus.NO_INVOICE: "#4b5563",
}


# --- how things are shown --------------------------------------------------------------------------------


def day(value) -> str:
    """dd/mm/yyyy of a date or of an instant (in Paris time); empty when there is none."""
    if value is None:
        return "—"
    if hasattr(value, "tzinfo"):
        value = timezone.localdate(value)
    return f"{value:%d/%m/%Y}"


def moment(value) -> str:
    return f"{timezone.localtime(value):%d/%m/%Y %H:%M}" if value else "—"


def money(value) -> str:
    return format_eur(value) if value is not None else "—"


def money_cell(value):
    return format_html('<span style="white-space:nowrap">{}</span>', money(value))


def status_badge(tx: BankTransaction):
    return format_html(
        '<span style="color:{};font-weight:600">{}</span>',
        STATUS_COLOURS.get(tx.match_status, "#374151"),
        tx.get_match_status_display(),
    )


def short(text: str, size: int = 38) -> str:
    text = (text or "").strip()
    return text if len(text) <= size else text[: size - 1] + "…"


def reasons_html(reasons):
    if not reasons:
        return "—"
    return format_html(
        '<ul style="margin:0;padding-left:1.2em">{}</ul>',
        format_html_join("", "<li>{}</li>", ((reason_text(r),) for r in reasons)),
    )


def candidate_summary(candidate: dict) -> str:
    parts = [
        f"{a['invoice']} : {format_eur(a['amount'])}"
        + (f" (+ {format_eur(a['write_off'])} passés en perte)" if float(a.get("write_off") or 0) else "")
        for a in candidate.get("allocations", [])
    ]
    excess = candidate.get("excess") or "0"
    if float(excess):
        parts.append(f"{format_eur(excess)} au crédit du client")
    return " ; ".join(parts)


def candidates_html(tx: BankTransaction, *, buttons: bool, confirm_url: str = ""):
    """The ranked suggestions of a transaction, each with its reasons and (optionally) a confirm button."""
    if not tx.match_candidates:
        return "—"
    rows = []
    for index, candidate in enumerate(tx.match_candidates):
        button = ""
        if buttons and tx.match_status not in ALLOCATED_STATUSES:
            # formaction: the button posts the surrounding admin form (with its CSRF token) to our view
            button = format_html(
                '<button type="submit" class="button" formaction="{}" name="candidate" value="{}">'
                "Confirmer</button>",
                confirm_url,
                index,
            )
        rows.append(
            format_html(
                "<tr><td>{}</td><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                index + 1,
                candidate_summary(candidate),
                candidate.get("score", ""),
                reasons_html(candidate.get("reasons", [])),
                button,
            )
        )
    return format_html(
        '<table class="match-candidates"><tr><th>#</th><th>Affectation proposée</th><th>Score</th>'
        "<th>Raisons</th><th></th></tr>{}</table>",
        format_html_join("", "{}", ((row,) for row in rows)),
    )


def _back(request, default: str) -> str:
    """Where to go after a POST: the page given in ``next`` if it is one of this site's, else ``default``."""
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default


# --- transactions -----------------------------------------------------------------------------------------


class PaymentAllocationInline(ReadOnlyMixin, admin.TabularInline):
    model = PaymentAllocation
    verbose_name = "facture payée"
    verbose_name_plural = "factures payées par ce crédit"
    fields = ("invoice_link", "client", "amount_display", "write_off_display", "method", "created_by", "at")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("invoice__client", "created_by")

    @admin.display(description="facture")
    def invoice_link(self, obj):
        url = reverse("admin:invoicing_invoice_change", args=[obj.invoice_id])
        return format_html('<a href="{}">{}</a>', url, obj.invoice.number)

    @admin.display(description="client")
    def client(self, obj):
        return obj.invoice.client

    @admin.display(description="montant")
    def amount_display(self, obj):
        return money(obj.amount)

    @admin.display(description="écart passé en perte")
    def write_off_display(self, obj):
        return money(obj.write_off) if obj.write_off else "—"

    @admin.display(description="le")
    def at(self, obj):
        return moment(obj.created_at)


class MatchEventInline(ReadOnlyMixin, admin.TabularInline):
    model = MatchEvent
    verbose_name = "décision"
    verbose_name_plural = "décisions de personnes (historique)"
    fields = ("at_display", "kind", "from_status", "to_status", "what", "actor", "reason")
    readonly_fields = fields
    extra = 0

    @admin.display(description="le")
    def at_display(self, obj):
        return moment(obj.at)

    @admin.display(description="affectations")
    def what(self, obj):
        parts = [f"{a['invoice']} : {format_eur(a['amount'])}" for a in obj.allocations]
        if obj.excess:
            parts.append(f"{format_eur(obj.excess)} au crédit de {obj.excess_client}")
        return " ; ".join(parts) or "—"


@admin.register(BankTransaction)
class BankTransactionAdmin(admin.ModelAdmin):
    list_display = (
        "date_display",
        "amount_display",
        "payer_display",
        "status_display",
        "invoices_display",
        "excess_display",
        "account",
    )
    list_display_links = ("date_display",)
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
    inlines = [PaymentAllocationInline, MatchEventInline]
    actions = ["run_matcher", "mark_no_invoice"]
    # What the bank says is never edited here; the match is changed through the decisions below.
    readonly_fields = (
        "settled_display",
        "amount_display",
        "side",
        "status",
        "operation_type_display",
        "account",
        "label",
        "clean_counterparty_name",
        "counterparty_iban",
        "counterparty_bic",
        "reference",
        "note",
        "match_status_badge",
        "score_display",
        "reasons_display",
        "excess_display",
        "decided_display",
        "processed_display",
        "qonto_id",
        "transaction_id",
        "emitted_display",
        "currency",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "settled_display",
                    "amount_display",
                    "side",
                    "status",
                    "operation_type_display",
                    "account",
                )
            },
        ),
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
                    "match_status_badge",
                    "score_display",
                    "reasons_display",
                    "excess_display",
                    "decided_display",
                    "processed_display",
                )
            },
        ),
        (
            "Qonto",
            {
                "fields": ("qonto_id", "transaction_id", "emitted_display", "currency"),
                "classes": ("collapse",),
            },
        ),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("raw")
            .prefetch_related(
                Prefetch(
                    "allocations",
                    queryset=PaymentAllocation.objects.select_related("invoice").only(
                        "transaction_id", "amount", "invoice__number"
                    ),
                ),
                Prefetch(
                    "client_credit_movements",
                    queryset=ClientCreditMovement.objects.filter(
                        kind=ClientCreditMovement.Kind.EXCESS, reversed_by__isnull=True
                    ).only("transaction_id", "amount"),
                    to_attr="open_excesses",
                ),
            )
        )

    # ---- columns and fields

    @admin.display(description="date", ordering="settled_at")
    def date_display(self, obj):
        return day(obj.settled_at or obj.emitted_at)

    @admin.display(description="date de valeur")
    def settled_display(self, obj):
        return day(obj.settled_at)

    @admin.display(description="montant", ordering="amount")
    def amount_display(self, obj):
        sign = "" if obj.side == Side.CREDIT else "−"
        return format_html('<span style="white-space:nowrap">{}{}</span>', sign, money(obj.amount))

    @admin.display(description="payeur · référence", ordering="label")
    def payer_display(self, obj):
        reference = short(obj.reference, 34)
        return format_html(
            '{}<br><span style="color:#6b7280;font-size:0.92em">{}</span>',
            short(obj.clean_counterparty_name or obj.label, 34),
            reference or "—",
        )

    @admin.display(description="rapprochement", ordering="match_status")
    def status_display(self, obj):
        """The status, when it was processed, and the way to decide when a person has to. A debit pays no
        invoice of ours: nothing to match, nothing to do."""
        if obj.side != Side.CREDIT:
            return format_html('<span style="color:#6b7280">{}</span>', "débit : sans rapprochement")
        waiting = obj.match_status not in ALLOCATED_STATUSES
        return format_html(
            '{}<br><span style="color:#6b7280;font-size:0.92em">traité le {}</span>{}',
            status_badge(obj),
            moment(obj.processed_at) if obj.processed_at else "—",
            format_html(
                ' <a href="{}">affecter…</a>',
                reverse("admin:banking_banktransaction_allocate", args=[obj.pk]),
            )
            if waiting
            else "",
        )

    @admin.display(description="score du rapprochement")
    def score_display(self, obj):
        return obj.match_score if obj.match_score else "—"

    @admin.display(description="rapprochement")
    def match_status_badge(self, obj):
        return status_badge(obj)

    def get_list_display(self, request):
        """The account column only when there is more than one account to tell apart."""
        columns = super().get_list_display(request)
        if BankAccount.objects.count() <= 1:
            columns = tuple(c for c in columns if c != "account")
        return columns

    @admin.display(description="factures")
    def invoices_display(self, obj):
        allocations = list(obj.allocations.all())
        if not allocations:
            return "—"
        return ", ".join(a.invoice.number for a in allocations)

    @admin.display(description="trop-perçu")
    def excess_display(self, obj):
        excesses = getattr(obj, "open_excesses", None)
        if excesses is None:
            excesses = list(
                obj.client_credit_movements.filter(
                    kind=ClientCreditMovement.Kind.EXCESS, reversed_by__isnull=True
                )
            )
        total = sum((m.amount for m in excesses), ZERO)
        return money_cell(total) if total else "—"

    @admin.display(description="traité le", ordering="processed_at")
    def processed_display(self, obj):
        return moment(obj.processed_at)

    @admin.display(description="émise le")
    def emitted_display(self, obj):
        return moment(obj.emitted_at)

    @admin.display(description="type d'opération")
    def operation_type_display(self, obj):
        return obj.get_operation_type_display() or "—"

    @admin.display(description="raisons")
    def reasons_display(self, obj):
        return reasons_html(obj.match_reasons)

    @admin.display(description="décidé par")
    def decided_display(self, obj):
        if obj.decided_at is None:
            return "—"
        who = obj.decided_by.get_username() if obj.decided_by else "une personne"
        return f"{who}, le {moment(obj.decided_at)}"

    # ---- pages

    def get_urls(self):
        def view(fn, name, route):
            return path(route, self.admin_site.admin_view(fn), name=f"banking_banktransaction_{name}")

        return [
            view(self.suggestions_view, "suggestions", "suggestions/"),
            view(self.export_view, "export", "export/"),
            view(self.confirm_view, "confirm", "<int:pk>/confirm/"),
            view(self.no_invoice_view, "no_invoice", "<int:pk>/no-invoice/"),
            view(self.undo_view, "undo", "<int:pk>/undo/"),
            view(self.allocate_view, "allocate", "<int:pk>/allocate/"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        extra_context = {
            **(extra_context or {}),
            "title": "Transactions bancaires",
            "suggestions_url": reverse("admin:banking_banktransaction_suggestions"),
            "suggestions_count": BankTransaction.objects.waiting_for_person()
            .filter(match_status=MatchStatus.SUGGESTED)
            .count(),
            "export_url": reverse("admin:banking_banktransaction_export") + (f"?{query}" if query else ""),
        }
        response = super().changelist_view(request, extra_context)
        changelist = (
            getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        )
        if changelist is not None:
            totals = changelist.queryset.order_by().aggregate(
                credits=Sum("amount", filter=Q(side=Side.CREDIT)),
                debits=Sum("amount", filter=Q(side=Side.DEBIT)),
            )
            response.context_data["totals"] = {
                "credits": format_eur(totals["credits"] or ZERO),
                "debits": format_eur(totals["debits"] or ZERO),
            }
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tx = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if tx is not None:
            can = self.has_change_permission(request, tx) and tx.side == Side.CREDIT
            extra.update(
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
                decision={
                    "candidates": candidates_html(
                        tx,
                        buttons=can,
                        confirm_url=reverse("admin:banking_banktransaction_confirm", args=[tx.pk]),
                    )
                    if tx.match_status == MatchStatus.SUGGESTED
                    else None,
                    "can_allocate": can and tx.match_status not in ALLOCATED_STATUSES,
                    "can_mark_no_invoice": can
                    and tx.match_status not in (*ALLOCATED_STATUSES, MatchStatus.NO_INVOICE),
                    "can_undo": can and (tx.match_status in (*ALLOCATED_STATUSES, MatchStatus.NO_INVOICE)),
                    "allocate_url": reverse("admin:banking_banktransaction_allocate", args=[tx.pk]),
                    "no_invoice_url": reverse("admin:banking_banktransaction_no_invoice", args=[tx.pk]),
                    "undo_url": reverse("admin:banking_banktransaction_undo", args=[tx.pk]),
                },
            )
        return super().change_view(request, object_id, form_url, extra)

    def suggestions_view(self, request):
        """Every credit waiting for a person, with its candidates and one button per candidate."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        pending = list(
            BankTransaction.objects.filter(match_status=MatchStatus.SUGGESTED, side=Side.CREDIT)
            .defer("raw")
            .select_related("account")
            .order_by("settled_at", "pk")[:200]
        )
        can_change = self.has_change_permission(request)
        rows = [
            (
                tx,
                candidates_html(
                    tx,
                    buttons=can_change,
                    confirm_url=reverse("admin:banking_banktransaction_confirm", args=[tx.pk]),
                ),
                reasons_html(tx.match_reasons),
            )
            for tx in pending
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Paiements à confirmer",
            "rows": rows,
            "opts": self.model._meta,
            "can_change": can_change,
        }
        return TemplateResponse(request, "admin/banking/suggestions.html", context)

    def _decision(self, request, pk, decide):
        """POST only, change permission: run ``decide(tx)`` (one service call) and report it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        tx = get_object_or_404(BankTransaction.objects.defer("raw"), pk=pk)
        back = _back(request, reverse("admin:banking_banktransaction_change", args=[pk]))
        if not self.has_change_permission(request, tx):
            self.message_user(
                request, "Vous n'avez pas le droit de rapprocher des paiements.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            message = decide(tx)
        except (BusinessError, ValueError) as exc:
            self.message_user(request, f"{tx} : {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{tx} : {message}", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def confirm_view(self, request, pk):
        def decide(tx):
            event = suggestion_confirm(
                transaction=tx, candidate_index=int(request.POST.get("candidate", "")), user=request.user
            )
            return "suggestion confirmée : " + event_summary(event)

        return self._decision(request, pk, decide)

    def no_invoice_view(self, request, pk):
        def decide(tx):
            transaction_mark_no_invoice(transaction=tx, user=request.user, note=request.POST.get("note", ""))
            return "marquée « ne paie aucune facture »."

        return self._decision(request, pk, decide)

    def undo_view(self, request, pk):
        def decide(tx):
            event = transaction_decision_undo(
                transaction=tx, user=request.user, reason=request.POST.get("undo_reason", "")
            )
            return f"décision annulée ({event.get_to_status_display()})."

        return self._decision(request, pk, decide)

    def allocate_view(self, request, pk):
        """The allocation form: a client's open invoices with an amount each, other invoices by number, the
        remainder shown as it is typed, and who is credited with it."""
        tx = get_object_or_404(BankTransaction.objects.defer("raw"), pk=pk)
        if not self.has_change_permission(request, tx):
            raise PermissionDenied
        client = allocation_client(tx, request.GET.get("client") or request.POST.get("client"))
        invoices = list(
            Invoice.objects.open().filter(client=client).order_by("issue_date", "pk")[:60] if client else []
        )
        clients = Client.objects.filter(pk__in=suggested_client_ids(tx) | ({client.pk} if client else set()))
        form = AllocationForm(request.POST or None, invoices=invoices, clients=clients)
        if request.method == "POST" and form.is_valid():
            try:
                event = transaction_allocate(
                    transaction=tx,
                    allocations=form.cleaned_data["specs"],
                    excess_client=form.cleaned_data["excess_client"],
                    user=request.user,
                    note=form.cleaned_data["note"],
                )
            except BusinessError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"{tx} : {event_summary(event)}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:banking_banktransaction_change", args=[tx.pk]))
        search = request.GET.get("q", "").strip()
        found = list(Client.objects.filter(name__icontains=search).order_by("name")[:20]) if search else []
        context = {
            **self.admin_site.each_context(request),
            "title": "Affecter un crédit",
            "opts": self.model._meta,
            "tx": tx,
            "amount": format_eur(tx.amount),
            "amount_value": str(tx.amount),
            "client": client,
            "form": form,
            "search": search,
            "found": found,
            "candidates": candidates_html(tx, buttons=False) if tx.match_candidates else None,
            "allocated": tx.match_status in ALLOCATED_STATUSES,
            "day": day(tx.settled_at or tx.emitted_at),
        }
        return TemplateResponse(request, "admin/banking/allocate.html", context)

    def export_view(self, request):
        """The transactions of the list as it is filtered, as a CSV that French Excel opens as it is."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request).select_related("account").defer("raw")
        writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in transactions_csv_rows(rows.iterator(chunk_size=2000))),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="transactions-bancaires.csv"'
        return response

    # ---- actions

    @admin.action(description="Lancer le rapprochement sur les crédits sélectionnés", permissions=["change"])
    def run_matcher(self, request, queryset):
        results = payments_match(transactions=list(queryset.values_list("pk", flat=True)))
        if not results:
            self.message_user(
                request,
                "Aucun crédit à rapprocher dans la sélection (les décisions des personnes sont gardées).",
                messages.WARNING,
            )
            return
        counts = {status: 0 for status in ("matched", "suggested", "unrecognised")}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        self.message_user(
            request,
            f"{len(results)} crédit(s) examiné(s) : {counts['matched']} rapproché(s) automatiquement, "
            f"{counts['suggested']} suggéré(s), {counts['unrecognised']} non reconnu(s).",
        )

    @admin.action(
        description="Marquer « ne paie aucune facture » (remboursement, intérêts, apport…)",
        permissions=["change"],
    )
    def mark_no_invoice(self, request, queryset):
        for tx in queryset.defer("raw"):
            try:
                transaction_mark_no_invoice(transaction=tx, user=request.user)
                self.message_user(request, f"{tx} : marquée « ne paie aucune facture ».")
            except BusinessError as exc:
                self.message_user(request, f"{tx} : {exc}", messages.ERROR)


def event_summary(event: MatchEvent) -> str:
    parts = [f"{a['invoice']} ({format_eur(a['amount'])})" for a in event.allocations]
    text = "payé " + ", ".join(parts) if parts else "aucune facture payée"
    if event.excess:
        text += f" ; {format_eur(event.excess)} portés au crédit de {event.excess_client}"
    return text + "."


def suggested_client_ids(tx: BankTransaction) -> set[int]:
    ids = {c.get("excess_client_id") for c in tx.match_candidates or [] if c.get("excess_client_id")}
    invoice_ids = [a["invoice_id"] for c in tx.match_candidates or [] for a in c.get("allocations", [])]
    if invoice_ids:
        ids |= set(Invoice.objects.filter(pk__in=invoice_ids).values_list("client_id", flat=True))
    return ids


def allocation_client(tx: BankTransaction, chosen) -> Client | None:
    """The client whose invoices the allocation form lists: the one chosen, else the one the suggestions,
    a learned payer or the payer's exact name point at."""
    if chosen and str(chosen).isdigit():
        return Client.objects.filter(pk=int(chosen)).first()
    suggested = suggested_client_ids(tx)
    if len(suggested) == 1:
        return Client.objects.filter(pk=suggested.pop()).first()
    name = clean_payer_name(tx.clean_counterparty_name or tx.label)
    iban = norm_iban(tx.counterparty_iban)
    query = Q(pk__in=[])
    if iban:
        query |= Q(iban=iban)
    if name:
        query |= Q(normalized_name=name)
    client_ids = set(PayerIdentity.objects.filter(query).values_list("client_id", flat=True))
    if not client_ids and name:
        client_ids = set(Client.objects.filter(normalized_name=name).values_list("pk", flat=True))
    return Client.objects.filter(pk=client_ids.pop()).first() if len(client_ids) == 1 else None


class _Echo:
    def write(self, value):
        return value


CSV_HEADER = [
    "Date de valeur",
    "Compte",
    "Sens",
    "Montant",
    "Libellé",
    "Contrepartie",
    "Référence",
    "IBAN émetteur",
    "Type d'opération",
    "État à la banque",
    "Rapprochement",
    "Factures payées",
    "Trop-perçu",
    "Traité le",
    "Référence Qonto",
]


def csv_amount(value) -> str:
    """Excel in French reads ``1234,56`` as a number: decimal comma, no thousands separator."""
    return f"{value:.2f}".replace(".", ",") if value is not None else ""


def transactions_csv_rows(transactions):
    """The header then one row per transaction; a UTF-8 byte-order mark first, so Excel reads the accents."""
    yield ["\ufeff" + CSV_HEADER[0], *CSV_HEADER[1:]]
    for tx in transactions:
        allocations = list(tx.allocations.all())
        excess = sum((m.amount for m in getattr(tx, "open_excesses", [])), ZERO)
        yield csv_safe_row(
            [
                day(tx.settled_at or tx.emitted_at),
                str(tx.account or ""),
                tx.get_side_display(),
                csv_amount(tx.amount if tx.side == Side.CREDIT else -tx.amount),
                tx.label,
                tx.clean_counterparty_name,
                tx.reference,
                tx.counterparty_iban,
                tx.get_operation_type_display(),
                tx.get_status_display(),
                tx.get_match_status_display(),
                " ".join(a.invoice.number for a in allocations),
                csv_amount(excess) if excess else "",
                moment(tx.processed_at) if tx.processed_at else "",
                tx.transaction_id,
            ]
        )


@admin.register(PaymentAllocation)
class PaymentAllocationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "invoice",
        "client",
        "amount_display",
        "write_off_display",
        "method",
        "transaction_display",
        "created_by",
        "created_display",
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

    def get_queryset(self, request):
        return super().get_queryset(request).defer("transaction__raw")

    @admin.display(description="client", ordering="invoice__client__name")
    def client(self, obj):
        return obj.invoice.client

    @admin.display(description="montant", ordering="amount")
    def amount_display(self, obj):
        return money_cell(obj.amount)

    @admin.display(description="écart passé en perte")
    def write_off_display(self, obj):
        return money_cell(obj.write_off) if obj.write_off else "—"

    @admin.display(description="transaction")
    def transaction_display(self, obj):
        return str(obj.transaction) if obj.transaction else "—"

    @admin.display(description="le", ordering="created_at")
    def created_display(self, obj):
        return moment(obj.created_at)


# --- clients' credit ----------------------------------------------------------------------------------------


class ClientCreditMovementInline(ReadOnlyMixin, admin.TabularInline):
    model = ClientCreditMovement
    fk_name = "credit"
    verbose_name = "mouvement"
    verbose_name_plural = "mouvements"
    fields = ("at_display", "kind", "amount_display", "source", "actor", "reason")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("invoice", "transaction", "actor")
            .defer("transaction__raw")
        )

    @admin.display(description="le")
    def at_display(self, obj):
        return moment(obj.at)

    @admin.display(description="montant")
    def amount_display(self, obj):
        sign = "+" if obj.signed_amount > 0 else "−"
        return f"{sign}{money(obj.amount)}"

    @admin.display(description="origine / emploi")
    def source(self, obj):
        if obj.invoice_id:
            return f"facture {obj.invoice.number}"
        if obj.transaction_id:
            return str(obj.transaction)
        return "—"


@admin.register(ClientCredit)
class ClientCreditAdmin(admin.ModelAdmin):
    list_display = ("client", "balance_display", "updated_display")
    list_select_related = ("client",)
    search_fields = ("client__name",)
    readonly_fields = ("client", "balance_display", "updated_display")
    fields = readonly_fields
    inlines = [ClientCreditMovementInline]

    def has_add_permission(self, request):
        return False  # a client's credit comes from a credit transaction's excess

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="solde disponible", ordering="balance")
    def balance_display(self, obj):
        return money_cell(obj.balance)

    @admin.display(description="mis à jour le", ordering="updated_at")
    def updated_display(self, obj):
        return moment(obj.updated_at)

    def get_urls(self):
        def view(fn, name, route):
            return path(route, self.admin_site.admin_view(fn), name=f"banking_clientcredit_{name}")

        return [
            view(self.apply_view, "apply", "<int:pk>/apply/"),
            view(self.refund_view, "refund", "<int:pk>/refund/"),
            view(self.movement_undo_view, "movement_undo", "<int:pk>/movement/<int:movement_pk>/undo/"),
            *super().get_urls(),
        ]

    def _open_invoices(self, credit):
        return Invoice.objects.open().filter(client_id=credit.client_id).order_by("issue_date", "pk")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        credit = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if credit is not None:
            extra.update(
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
                can_change=self.has_change_permission(request, credit),
                apply_form=ClientCreditApplyForm(prefix="apply", invoices=self._open_invoices(credit)),
                refund_form=ClientCreditRefundForm(prefix="refund"),
                apply_url=reverse("admin:banking_clientcredit_apply", args=[credit.pk]),
                refund_url=reverse("admin:banking_clientcredit_refund", args=[credit.pk]),
                undoable=[
                    (m, reverse("admin:banking_clientcredit_movement_undo", args=[credit.pk, m.pk]))
                    for m in credit.movements.filter(
                        kind__in=[ClientCreditMovement.Kind.APPLIED, ClientCreditMovement.Kind.REFUNDED],
                        reversed_by__isnull=True,
                    ).select_related("invoice")[:20]
                ],
            )
        return super().change_view(request, object_id, form_url, extra)

    def _post(self, request, pk, run):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        credit = get_object_or_404(ClientCredit.objects.select_related("client"), pk=pk)
        if not self.has_change_permission(request, credit):
            raise PermissionDenied
        try:
            message = run(credit)
        except BusinessError as exc:
            self.message_user(request, f"{credit.client} : {exc}", messages.ERROR)
        else:
            self.message_user(request, f"{credit.client} : {message}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:banking_clientcredit_change", args=[pk]))

    def apply_view(self, request, pk):
        def run(credit):
            form = ClientCreditApplyForm(request.POST, prefix="apply", invoices=self._open_invoices(credit))
            if not form.is_valid():
                raise BusinessError(_form_errors(form))
            movement = client_credit_apply(
                client=credit.client,
                invoice=form.cleaned_data["invoice"],
                amount=form.cleaned_data["amount"],
                actor=request.user,
                reason=form.cleaned_data["note"],
            )
            return f"{money(movement.amount)} imputés sur {movement.invoice.number}."

        return self._post(request, pk, run)

    def refund_view(self, request, pk):
        def run(credit):
            form = ClientCreditRefundForm(request.POST, prefix="refund")
            if not form.is_valid():
                raise BusinessError(_form_errors(form))
            movement = client_credit_refund(
                client=credit.client,
                amount=form.cleaned_data["amount"],
                actor=request.user,
                reason=form.cleaned_data["note"],
            )
            return f"remboursement de {money(movement.amount)} enregistré."

        return self._post(request, pk, run)

    def movement_undo_view(self, request, pk, movement_pk):
        def run(credit):
            movement = get_object_or_404(ClientCreditMovement, pk=movement_pk, credit=credit)
            client_credit_movement_undo(
                movement=movement, actor=request.user, reason=request.POST.get("reason", "")
            )
            return f"« {movement.get_kind_display()} » de {money(movement.amount)} annulé."

        return self._post(request, pk, run)


def _form_errors(form) -> str:
    return " ; ".join(
        f"{form.fields[name].label if name in form.fields else ''} : {' '.join(errors)}".strip(" :")
        for name, errors in form.errors.items()
    )


@admin.register(MatchEvent)
class MatchEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at_display", "transaction", "kind", "from_status", "to_status", "actor", "reason")
    list_filter = ("kind",)
    list_select_related = ("transaction", "actor")
    search_fields = ("transaction__label", "transaction__reference", "reason", "allocations")
    date_hierarchy = "at"

    def get_queryset(self, request):
        return super().get_queryset(request).defer("transaction__raw")

    @admin.display(description="le", ordering="at")
    def at_display(self, obj):
        return moment(obj.at)


# --- learned payers, accounts, webhooks, alerts -----------------------------------------------------------


@admin.register(PayerIdentity)
class PayerIdentityAdmin(admin.ModelAdmin):
    list_display = ("client", "name", "iban", "normalized_name", "confirmed_display")
    list_select_related = ("client",)
    search_fields = ("name", "normalized_name", "iban", "client__name")
    raw_id_fields = ("client",)
    fields = ("client", "name", "iban", "normalized_name")
    readonly_fields = ("normalized_name",)

    @admin.display(description="confirmé le", ordering="confirmed_at")
    def confirmed_display(self, obj):
        return moment(obj.confirmed_at)

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
        "balance_display",
        "authorized_display",
        "currency",
        "status",
        "main",
        "synced_display",
    )
    search_fields = ("name", "iban", "qonto_id", "slug")
    readonly_fields = (
        "qonto_id",
        "slug",
        "iban",
        "bic",
        "currency",
        "balance_display",
        "authorized_display",
        "status",
        "synced_display",
        "updated_display",
    )
    fields = ("name", "main", *readonly_fields)

    def has_add_permission(self, request):
        return False  # accounts come from Qonto

    @admin.display(description="solde", ordering="balance")
    def balance_display(self, obj):
        return money_cell(obj.balance)

    @admin.display(description="solde autorisé")
    def authorized_display(self, obj):
        return money_cell(obj.authorized_balance)

    @admin.display(description="synchronisé jusqu'au", ordering="synced_through")
    def synced_display(self, obj):
        return moment(obj.synced_through) if obj.synced_through else "non synchronisé"

    @admin.display(description="mis à jour le")
    def updated_display(self, obj):
        return moment(obj.updated_at)


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("date_display", "account", "balance_display")
    list_filter = ("account",)
    list_select_related = ("account",)
    date_hierarchy = "date"
    search_fields = ("account__name", "account__iban")

    @admin.display(description="date", ordering="date")
    def date_display(self, obj):
        return day(obj.date)

    @admin.display(description="solde", ordering="balance")
    def balance_display(self, obj):
        return money_cell(obj.balance)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("received_display", "event_type", "event_id", "transaction_qonto_id", "processed_display")
    list_filter = ("event_type",)
    search_fields = ("event_id", "transaction_qonto_id")
    date_hierarchy = "received_at"
    readonly_fields = (
        "event_id",
        "event_type",
        "transaction_qonto_id",
        "payload",
        "received_display",
        "processed_display",
    )
    fields = readonly_fields

    @admin.display(description="reçu le", ordering="received_at")
    def received_display(self, obj):
        return moment(obj.received_at)

    @admin.display(description="traité le", ordering="processed_at")
    def processed_display(self, obj):
        return moment(obj.processed_at)


@admin.register(OverdueAlert)
class OverdueAlertAdmin(admin.ModelAdmin):
    list_display = (
        "invoice",
        "client",
        "level_display",
        "days_late",
        "balance_display",
        "raised_display",
        "acknowledged",
    )
    list_filter = ("level", "acknowledged")
    list_select_related = ("invoice__client",)
    search_fields = ("invoice__number", "invoice__client__name")
    date_hierarchy = "raised_on"
    readonly_fields = (
        "invoice",
        "level_display",
        "days_late",
        "balance_display",
        "raised_display",
        "created_display",
    )
    fields = (
        "invoice",
        "level_display",
        "days_late",
        "balance_display",
        "raised_display",
        "acknowledged",
        "created_display",
    )
    actions = ["acknowledge"]

    def has_add_permission(self, request):
        return False  # raised by the daily overdue job

    @admin.display(description="client", ordering="invoice__client__name")
    def client(self, obj):
        return obj.invoice.client

    @admin.display(description="niveau", ordering="level")
    def level_display(self, obj):
        return f"J+{obj.level}"

    @admin.display(description="reste dû", ordering="balance_due")
    def balance_display(self, obj):
        return money_cell(obj.balance_due)

    @admin.display(description="levée le", ordering="raised_on")
    def raised_display(self, obj):
        return day(obj.raised_on)

    @admin.display(description="créée le")
    def created_display(self, obj):
        return moment(obj.created_at)

    @admin.action(description="Marquer comme vues", permissions=["change"])
    def acknowledge(self, request, queryset):
        count = overdue_alerts_acknowledge(alerts=queryset)
        self.message_user(request, f"{count} alerte(s) marquée(s) comme vue(s).")
