from django.contrib import admin
from django.db.models import Count
from django.utils import timezone
from django.utils.safestring import mark_safe

# Importing admin_review registers the review queue ("À valider"), the rules and the audit export.
from invoicing.admin_review import invoice_history_html, invoice_preview_html
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
from invoicing.services.invoices import invoice_refresh_totals


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

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return queryset, may_have_duplicates


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
class InvoiceAdmin(admin.ModelAdmin):
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
        ("Aperçu de la facture imprimée", {"fields": ("preview",)}),
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

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            obj.status = Status.DRAFT
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not form.instance.is_frozen:
            invoice_refresh_totals(invoice=form.instance)


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(admin.ModelAdmin):
    list_display = ("series", "year", "last_number")
    list_filter = ("series",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
