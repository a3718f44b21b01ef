from django.contrib import admin, messages
from django.db.models import Count
from django.utils import timezone
from django.utils.safestring import mark_safe

# Importing admin_review registers the review queue ("À valider"), the rules and the audit export.
from invoicing.admin_documents import InvoiceDocumentsAdminMixin
from invoicing.admin_review import four_eyes_warning, invoice_history_html, invoice_preview_html
from invoicing.models import (
    Client,
    ClientAlias,
    Contract,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    SellerProfile,
)
from invoicing.models.invoice import FROZEN_STATUSES, Status
from invoicing.services.invoices import EDITABLE_FIELDS, LineSpec, invoice_create, invoice_update
from invoicing.services.review import invoices_submit
from syaga.core.admin import ReadOnlyMixin


@admin.register(SellerProfile)
class SellerProfileAdmin(admin.ModelAdmin):
    list_display = (
        "legal_name",
        "siren",
        "vat_number",
        "vat_regime",
        "payment_terms_days",
        "four_eyes_approval",
    )
    fieldsets = (
        (
            "Identité",
            {
                "fields": (
                    "legal_name",
                    "legal_form",
                    "share_capital",
                    "rcs_city",
                    "siren",
                    "siret",
                    "vat_number",
                )
            },
        ),
        (
            "Coordonnées",
            {
                "fields": (
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "country",
                    "email",
                    "phone",
                )
            },
        ),
        ("Banque", {"fields": ("iban", "bic")}),
        (
            "Conditions",
            {
                "fields": (
                    "payment_terms_days",
                    "late_penalty_rate",
                    "recovery_indemnity",
                    "early_payment_discount",
                    "vat_regime",
                    "four_eyes_approval",
                )
            },
        ),
    )

    def has_add_permission(self, request):
        # One seller profile: the firm itself.
        return super().has_add_permission(request) and not SellerProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET":
            four_eyes_warning(request)
        return super().change_view(request, object_id, form_url, extra_context)


class ClientAliasInline(admin.TabularInline):
    model = ClientAlias
    extra = 1
    fields = ("name",)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "siren",
        "city",
        "payment_terms_days",
        "hourly_rate",
        "auto_approve",
        "active",
        "invoice_count",
    )
    list_filter = ("active", "auto_approve")
    search_fields = (
        "name",
        "normalized_name",
        "siren",
        "siret",
        "vat_number",
        "aliases__name",
        "invoice_emails",
    )
    inlines = [ClientAliasInline]
    fieldsets = (
        (None, {"fields": ("name", "legal_form", "active")}),
        ("Identifiants", {"fields": ("siren", "siret", "vat_number")}),
        (
            "Facturation",
            {
                "fields": (
                    "address_line1",
                    "address_line2",
                    "postal_code",
                    "city",
                    "country",
                    "invoice_emails",
                    "payment_terms_days",
                    "hourly_rate",
                    "auto_approve",
                )
            },
        ),
        ("Notes", {"fields": ("notes",), "classes": ("collapse",)}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_invoice_count=Count("invoices"))

    @admin.display(description="factures", ordering="_invoice_count")
    def invoice_count(self, obj):
        return obj._invoice_count


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = (
        "client",
        "label",
        "amount_ht",
        "vat_rate",
        "period",
        "start_date",
        "end_date",
        "next_billing_date",
        "auto_approve",
        "active",
        "detected",
    )
    list_filter = ("period", "active", "auto_approve", "detected")
    list_select_related = ("client",)
    search_fields = ("client__name", "label")
    date_hierarchy = "next_billing_date"
    autocomplete_fields = ("client",)
    readonly_fields = ("detected", "created_at", "updated_at")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    min_num = 1
    validate_min = True
    fields = ("position", "description", "quantity", "unit", "unit_price", "vat_rate", "total_ht")
    readonly_fields = ("total_ht",)

    def _frozen(self, obj):
        return obj is not None and obj.status in FROZEN_STATUSES

    def has_add_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._frozen(obj) and super().has_delete_permission(request, obj)


def lines_from_formsets(formsets) -> list[LineSpec] | None:
    """The lines a person left in the inline (deleted ones aside), in position order; None: no inline."""
    for formset in formsets:
        if formset.model is not InvoiceLine:
            continue
        rows = [
            form.cleaned_data
            for form in formset.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        rows.sort(key=lambda row: row.get("position") or 0)
        return [
            LineSpec(
                description=row["description"],
                quantity=row["quantity"],
                unit=row["unit"],
                unit_price=row["unit_price"],
                vat_rate=row["vat_rate"],
            )
            for row in rows
        ]
    return None


class OverdueFilter(admin.SimpleListFilter):
    title = "échéance"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return (("yes", "en retard"), ("open", "à encaisser"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue(timezone.localdate())
        if self.value() == "open":
            return queryset.open()
        return queryset


@admin.register(Invoice)
class InvoiceAdmin(InvoiceDocumentsAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "client",
        "issue_date",
        "due_date",
        "total_ht",
        "total_ttc",
        "amount_paid",
        "status",
        "origin",
    )
    list_filter = ("status", "kind", "origin", OverdueFilter)
    list_select_related = ("client",)
    search_fields = ("number", "client__name", "subject")
    date_hierarchy = "issue_date"
    autocomplete_fields = ("client",)
    inlines = [InvoiceLineInline]
    list_per_page = 50
    show_full_result_count = False
    editable_fields = (
        "client",
        "subject",
        "issue_date",
        "due_date",
        "period_start",
        "period_end",
        "purchase_order",
        "notes",
    )
    fieldsets = (
        (None, {"fields": ("number", "kind", "status", "origin", "client", "subject", "purchase_order")}),
        ("Dates", {"fields": ("issue_date", "period_start", "period_end", "due_date")}),
        ("Montants", {"fields": ("total_ht", "total_vat", "total_ttc", "amount_paid", "paid_date")}),
        (
            "Origine",
            {
                "fields": ("contract", "credited_invoice", "validation_rule", "review_reason", "notes"),
                "classes": ("collapse",),
            },
        ),
        ("Aperçu de la facture imprimée", {"fields": ("documents", "preview")}),
        ("Historique", {"fields": ("history",)}),
    )

    @admin.display(description="aperçu")
    def preview(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return mark_safe(invoice_preview_html(obj))  # noqa: S308 - our template, autoescaped

    @admin.display(description="historique")
    def history(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return mark_safe(invoice_history_html(obj))  # noqa: S308 - our template, autoescaped

    def get_readonly_fields(self, request, obj=None):
        every_field = [f for fs in self.fieldsets for f in fs[1]["fields"]]
        if obj is not None and obj.status in FROZEN_STATUSES:
            return every_field  # issued: read-only; corrections go through a credit note
        return [f for f in every_field if f not in self.editable_fields]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.status in FROZEN_STATUSES:
            # Issued: nothing to save, so no save buttons (the page is the document and its history).
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status in FROZEN_STATUSES:
            return False
        return super().has_delete_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and obj.status in (Status.PENDING_REVIEW, Status.APPROVED, Status.REJECTED):
            note = (
                "Elle n'est pas modifiée sur place : l'enregistrer la renvoie en brouillon, avec vos "
                "modifications dans son historique ; soumettez-la ensuite à nouveau à validation."
            )
            first = (fieldsets[0][0], {**fieldsets[0][1], "description": note})
            fieldsets = [first, *fieldsets[1:]]
        return fieldsets

    # Saving goes through the services once the lines are known (save_related): invoice_create for a new
    # invoice, invoice_update (history before/after, back to draft when it was in review) for a change.
    def save_model(self, request, obj, form, change):
        pass

    def construct_change_message(self, request, form, formsets, add=False):
        # The inline formsets were not saved by the admin (the services wrote the lines); the invoice's own
        # history holds the detail (before → after).
        return [{"added": {}}] if add else [{"changed": {"fields": form.changed_data}}]

    def save_related(self, request, form, formsets, change):
        fields = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        lines = lines_from_formsets(formsets)
        if not change:
            client = fields.pop("client")
            created = invoice_create(
                client=client,
                lines=lines or [],
                created_by=request.user,
                **{name: value for name, value in fields.items() if value not in (None, "")},
            )
            form.instance.pk = created.pk
            form.instance._state.adding = False
            form.instance.refresh_from_db()
            return
        was = Invoice.objects.values_list("status", flat=True).get(pk=form.instance.pk)
        invoice_update(invoice=form.instance, user=request.user, fields=fields, lines=lines)
        if was != form.instance.status:
            messages.warning(
                request,
                f"{form.instance} était « {Status(was).label} » : modifiée, elle revient en brouillon. "
                "Soumettez-la à nouveau à validation.",
            )

    actions = ["submit_selected"]

    @admin.action(description="Soumettre à validation", permissions=["change"])
    def submit_selected(self, request, queryset):
        report = invoices_submit(invoices=list(queryset.values_list("pk", flat=True)), user=request.user)
        counts = report.counts()
        if any(counts.values()):
            self.message_user(
                request,
                f"{sum(counts.values())} facture(s) soumise(s) : {counts['approved']} approuvée(s) par une "
                f"règle, {counts['rejected']} rejetée(s), {counts['review']} à valider.",
                messages.SUCCESS,
            )
        for invoice, reason in report.refused:
            self.message_user(request, f"{invoice} : non soumise, {reason}", messages.ERROR)


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("series", "year", "last_number")
    list_filter = ("series",)
