"""The review queue ("À valider"), the validation rules and the audit trail in the admin.

Actions are one-line callers of ``invoicing.services.review``; each invoice is reported on its own.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Subquery
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from invoicing.documents.context import invoice_document_context
from invoicing.models import (
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceToReview,
    RuleChangeLog,
    SellerProfile,
    ValidationRule,
)
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Status
from invoicing.selectors import APPROVE_PERMISSION
from invoicing.services.lifecycle import BatchResult
from invoicing.services.review import (
    four_eyes_active,
    invoice_label,
    invoices_approve,
    invoices_reject,
    invoices_send_back,
)
from invoicing.services.rules import rule_config_errors, rule_create, rule_update
from syaga.core.admin import ReadOnlyMixin
from syaga.core.csv import french_excel_response
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur, quantize

# --- shared with the invoice admin: the printed view and the history --------------------------------


FOUR_EYES_IMPOSSIBLE = (
    "Une seule personne peut approuver les factures : la validation à quatre yeux ne peut pas s'appliquer. "
    "Donnez la permission « Peut approuver et émettre les factures » à une deuxième personne."
)


def four_eyes_warning(request) -> None:
    """Say it on the pages where approval happens when four-eyes is asked for but cannot hold."""
    seller = SellerProfile.current()
    if (seller is None or seller.four_eyes_approval) and not four_eyes_active(seller):
        messages.warning(request, FOUR_EYES_IMPOSSIBLE)


def invoice_preview_html(invoice: Invoice) -> str:
    return render_to_string("invoicing/invoice_preview.html", invoice_document_context(invoice))


def invoice_history_html(invoice: Invoice) -> str:
    events = list(invoice.events.select_related("actor", "rule").order_by("at", "pk"))
    csv_url = reverse("admin:invoicing_invoicetoreview_audit_csv") + f"?invoice={invoice.pk}"
    return render_to_string("admin/invoicing/invoice_history.html", {"events": events, "csv_url": csv_url})


AUDIT_CSV_HEADER = [
    "Facture (n° interne)",
    "Numéro",
    "Client",
    "Date",
    "Par",
    "Événement",
    "De",
    "Vers",
    "Règle",
    "Motif",
    "Total HT",
    "Total TVA",
    "Total TTC",
]


def _amount(text) -> Decimal | str:
    return Decimal(text) if text not in (None, "") else ""


def audit_csv_rows(events):
    """The history as French Excel reads it: labels rather than codes, dates dd/mm/yyyy, decimal comma."""
    yield AUDIT_CSV_HEADER
    for event in events:
        totals = event.totals or {}
        yield [
            event.invoice_id,
            event.invoice.number or "",
            event.invoice.client.name,
            event.at,
            event.actor.get_username() if event.actor else "système",
            event.get_kind_display(),
            event.from_status_label if event.from_status else "",
            event.to_status_label if event.to_status else "",
            event.rule.name if event.rule else "",
            event.reason,
            _amount(totals.get("total_ht")),
            _amount(totals.get("total_vat")),
            _amount(totals.get("total_ttc")),
        ]


# --- the queue --------------------------------------------------------------------------------------


class InvoiceLineReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("position", "description", "quantity", "unit", "unit_price", "vat_rate", "total_ht")
    readonly_fields = fields
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return True


def _previous_total_subquery():
    """Total HT of the client's latest issued invoice: one correlated subquery, not a query per row."""
    return Subquery(
        Invoice.objects.filter(client=OuterRef("client"), kind=Kind.INVOICE, status__in=FROZEN_STATUSES)
        .order_by("-issue_date", "-pk")
        .values("total_ht")[:1],
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


@admin.register(InvoiceToReview)
class InvoiceToReviewAdmin(admin.ModelAdmin):
    list_display = (
        "invoice",
        "client",
        "issue_date",
        "total_ht",
        "total_ttc",
        "origin",
        "decided_by",
        "difference_from_previous",
    )
    list_display_links = ("invoice",)
    list_select_related = ("client", "validation_rule")
    list_filter = ("origin", "validation_rule")
    search_fields = ("number", "client__name", "subject")
    date_hierarchy = "issue_date"
    ordering = ("issue_date", "pk")
    list_per_page = 100
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected", "send_back_selected"]
    inlines = [InvoiceLineReadOnlyInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "client",
                    "origin",
                    "status",
                    "subject",
                    "issue_date",
                    "due_date",
                    "total_ht",
                    "total_ttc",
                    "validation_rule",
                    "review_reason",
                )
            },
        ),
        ("Aperçu de la facture imprimée", {"fields": ("preview",)}),
        ("Historique", {"fields": ("history",)}),
    )
    readonly_fields = (
        "client",
        "origin",
        "status",
        "subject",
        "issue_date",
        "due_date",
        "total_ht",
        "total_ttc",
        "validation_rule",
        "review_reason",
        "preview",
        "history",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=Status.PENDING_REVIEW)
            .annotate(_previous_ht=_previous_total_subquery())
        )

    # Permissions: anyone who may see invoices sees the queue; only approvers act on it.
    def has_view_permission(self, request, obj=None):
        user = request.user
        return (
            user.has_perm(APPROVE_PERMISSION)
            or user.has_perm("invoicing.view_invoice")
            or user.has_perm("invoicing.change_invoice")
        )

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE_PERMISSION)

    @admin.display(description="facture", ordering="pk")
    def invoice(self, obj):
        return str(obj)

    @admin.display(description="envoyée en relecture par")
    def decided_by(self, obj):
        if obj.validation_rule_id is None:
            return obj.review_reason or "-"
        return format_html(
            "<strong>{}</strong><br><small>{}</small>", obj.validation_rule.name, obj.review_reason
        )

    @admin.display(description="écart / facture précédente", ordering="_previous_ht")
    def difference_from_previous(self, obj):
        if obj._previous_ht is None:
            return "première facture"
        diff = obj.total_ht - quantize(obj._previous_ht)
        sign = "+" if diff > 0 else ""
        return f"{sign}{format_eur(diff)} (préc. {format_eur(quantize(obj._previous_ht))})"

    @admin.display(description="aperçu")
    def preview(self, obj):
        return mark_safe(invoice_preview_html(obj))  # noqa: S308 - rendered by our template, autoescaped

    @admin.display(description="historique")
    def history(self, obj):
        return mark_safe(invoice_history_html(obj))  # noqa: S308 - rendered by our template, autoescaped

    # --- actions ---

    def _report(self, request, result: BatchResult, done: str) -> None:
        if result.succeeded:
            names = ", ".join(invoice_label(invoice) for invoice in result.succeeded)
            self.message_user(
                request, f"{len(result.succeeded)} facture(s) {done} : {names}", messages.SUCCESS
            )
        for invoice, reason in result.failed:
            self.message_user(request, f"{invoice_label(invoice)} : échec, {reason}", messages.ERROR)

    def _run(self, request, service, done: str, **kwargs):
        try:
            result = service(user=request.user, **kwargs)
        except BusinessError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self._report(request, result, done)

    @admin.action(description="Approuver et émettre les factures sélectionnées", permissions=["approve"])
    def approve_selected(self, request, queryset):
        """Issuing gives each invoice its definitive number: a confirmation page lists them first."""
        if request.POST.get("post") == "yes":
            self._run(
                request,
                invoices_approve,
                "approuvée(s) et émise(s)",
                invoices=list(queryset.values_list("pk", flat=True)),
            )
            return None
        invoices = list(queryset.select_related("client").order_by("issue_date", "pk"))
        totals = queryset.totals()
        return self._confirmation(
            request,
            "admin/invoicing/invoicetoreview/approve_confirmation.html",
            title="Approuver et émettre des factures",
            invoices=invoices,
            total_ht=totals["ht"],
            total_ttc=totals["ttc"],
        )

    def _confirmation(self, request, template: str, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    @admin.action(description="Rejeter les factures sélectionnées (motif demandé)", permissions=["approve"])
    def reject_selected(self, request, queryset):
        error = ""
        if request.POST.get("post") == "yes":
            reason = request.POST.get("reason", "").strip()
            if reason:
                self._run(
                    request,
                    invoices_reject,
                    "rejetée(s)",
                    reason=reason,
                    invoices=list(queryset.values_list("pk", flat=True)),
                )
                return None
            error = "Indiquez le motif du rejet : il est conservé dans l'historique de chaque facture."
        return self._confirmation(
            request,
            "admin/invoicing/invoicetoreview/reject_confirmation.html",
            title="Rejeter des factures",
            invoices=list(queryset.select_related("client")),
            error=error,
            reason=request.POST.get("reason", ""),
        )

    @admin.action(description="Renvoyer en brouillon", permissions=["approve"])
    def send_back_selected(self, request, queryset):
        self._run(
            request,
            invoices_send_back,
            "renvoyée(s) en brouillon",
            invoices=list(queryset.values_list("pk", flat=True)),
        )

    # --- audit export ---

    def get_urls(self):
        urls = [
            path(
                "audit.csv",
                self.admin_site.admin_view(self.audit_csv_view),
                name="invoicing_invoicetoreview_audit_csv",
            ),
        ]
        return urls + super().get_urls()

    def audit_csv_view(self, request):
        """Every invoice transition as CSV (``?invoice=<id>`` for one invoice)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = InvoiceEvent.objects.select_related("invoice__client", "actor", "rule").order_by("at", "pk")
        invoice_id = request.GET.get("invoice", "")
        if invoice_id.isdigit():
            events = events.filter(invoice_id=int(invoice_id))
        suffix = f"-{invoice_id}" if invoice_id.isdigit() else ""
        return french_excel_response(
            audit_csv_rows(events.iterator()), filename=f"historique-factures{suffix}.csv"
        )

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and self.has_approve_permission(request):
            four_eyes_warning(request)
        extra_context = {
            **(extra_context or {}),
            "audit_csv_url": reverse("admin:invoicing_invoicetoreview_audit_csv"),
        }
        return super().changelist_view(request, extra_context)


# --- rules ------------------------------------------------------------------------------------------


class ValidationRuleForm(forms.ModelForm):
    class Meta:
        model = ValidationRule
        fields = list(ValidationRule.AUDITED_FIELDS)

    def clean(self):
        cleaned = super().clean()
        state = {f: cleaned.get(f, getattr(self.instance, f)) for f in ValidationRule.AUDITED_FIELDS}
        for field, reason in rule_config_errors(state).items():
            self.add_error(field if field in self.fields else None, reason)
        return cleaned


class RuleChangeLogInline(admin.TabularInline):
    model = RuleChangeLog
    extra = 0
    fields = ("at", "user", "changes")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "journal des modifications"

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("invoicing.view_validationrule") or request.user.has_perm(
            "invoicing.change_validationrule"
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="modification")
    def changes(self, obj):
        if obj.before is None:
            return "création"
        return "; ".join(f"{f} : {obj.before.get(f)} → {obj.after.get(f)}" for f in obj.changed_fields)


@admin.register(ValidationRule)
class ValidationRuleAdmin(admin.ModelAdmin):
    form = ValidationRuleForm
    list_display = ("order", "name", "check_kind", "comparison", "threshold", "action", "active")
    list_display_links = ("name",)
    list_editable = ("order", "comparison", "threshold", "action", "active")
    list_filter = ("action", "active")
    ordering = ("order", "pk")
    inlines = [RuleChangeLogInline]

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", ValidationRuleForm)
        return super().get_changelist_form(request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: the invoices and the change log keep pointing at it

    def save_model(self, request, obj, form, change):
        if change:
            audited = ValidationRule.AUDITED_FIELDS
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in audited}
            rule_update(rule=obj, user=request.user, **changes)
        else:
            fields = {f: getattr(obj, f) for f in ValidationRule.AUDITED_FIELDS}
            created = rule_create(user=request.user, **fields)
            obj.pk = created.pk
            obj._state.adding = False
