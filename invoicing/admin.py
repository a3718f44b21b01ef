import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
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
from invoicing.models.invoice import FROZEN_STATUSES, OPEN_STATUSES, Kind, Status
from invoicing.selectors import (
    APPROVE_PERMISSION,
    client_payment_terms,
    client_statement,
    invoice_list_totals,
    invoice_payments,
)
from invoicing.services.invoices import (
    EDITABLE_FIELDS,
    LineSpec,
    credit_note_create,
    invoice_create,
    invoice_update,
)
from invoicing.services.lifecycle import transitions_from
from invoicing.services.review import (
    invoice_label,
    invoices_approve,
    invoices_reject,
    invoices_send_back,
    invoices_submit,
)
from syaga.core.admin import ReadOnlyMixin
from syaga.core.csv import french_excel_response
from syaga.core.errors import BusinessError
from syaga.core.money import AmountError, format_eur, format_rate, parse_amount, quantize


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


def eur(value) -> str:
    return "—" if value is None else format_eur(value)


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "siren",
        "city",
        "payment_terms_days",
        "hourly_rate_display",
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

    # The client credit (trop-perçu) is recorded by banking, which invoicing does not import. Banking gives
    # its reader here from its AppConfig.ready(): ``ClientAdmin.client_credit_reader = <client -> Decimal>``;
    # the client page then shows it beside the balance (templates/admin/invoicing/client_account.html).
    client_credit_reader: Callable[[Client], Decimal] | None = None

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_invoice_count=Count("invoices"))

    @admin.display(description="factures", ordering="_invoice_count")
    def invoice_count(self, obj):
        return obj._invoice_count

    @admin.display(description="taux horaire HT", ordering="hourly_rate")
    def hourly_rate_display(self, obj):
        return eur(obj.hourly_rate)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.pk is None:
            return fieldsets
        return [("Compte client", {"fields": ("account",)}), *fieldsets]

    def get_readonly_fields(self, request, obj=None):
        return ["account"] if obj is not None else []

    @admin.display(description="compte")
    def account(self, obj):
        """Balance, open invoices, payments and credits, and how the client pays."""
        statement = client_statement(client=obj, on=timezone.localdate())
        credit = type(self).client_credit_reader
        context = {
            "client": obj,
            "statement": statement,
            "client_credit": credit(obj) if credit is not None else None,
            "invoices_url": reverse("admin:invoicing_invoice_changelist") + f"?client__id__exact={obj.pk}",
        }
        return mark_safe(render_to_string("admin/invoicing/client_account.html", context))  # noqa: S308 - autoescaped


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
    fields = ("position", "description", "quantity", "unit", "unit_price", "vat_rate", "total_ht_display")
    readonly_fields = ("total_ht_display",)
    # An issued invoice's lines are read, not typed: in French formats.
    frozen_fields = (
        "position",
        "description",
        "quantity_display",
        "unit",
        "unit_price_display",
        "vat_rate_display",
        "total_ht_display",
    )

    def _frozen(self, obj):
        return obj is not None and obj.status in FROZEN_STATUSES

    def get_fields(self, request, obj=None):
        return self.frozen_fields if self._frozen(obj) else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.frozen_fields if self._frozen(obj) else self.readonly_fields

    @admin.display(description="quantité")
    def quantity_display(self, line):
        return f"{line.quantity.normalize():f}".replace(".", ",")

    @admin.display(description="prix unitaire HT")
    def unit_price_display(self, line):
        return format_eur(line.unit_price)

    @admin.display(description="taux de TVA")
    def vat_rate_display(self, line):
        return format_rate(line.vat_rate)

    @admin.display(description="total HT")
    def total_ht_display(self, line):
        return format_eur(line.total_ht) if line.pk else "—"

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


CREDIT_MODES = {"whole": "toute la facture", "lines": "certaines lignes", "amount": "un montant"}


@admin.register(Invoice)
class InvoiceAdmin(InvoiceDocumentsAdminMixin, admin.ModelAdmin):
    list_display = (
        "invoice_label",
        "client",
        "issue_date",
        "due_date",
        "total_ht_display",
        "total_ttc_display",
        "balance_due_display",
        "status_display",
        "origin",
    )
    list_display_links = ("invoice_label",)
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
        (
            "Montants et paiements",
            {
                "fields": (
                    "total_ht_display",
                    "total_vat_display",
                    "total_ttc_display",
                    "amount_paid_display",
                    "balance_due_detail",
                    "paid_date",
                    "payments",
                )
            },
        ),
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

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_balance_due=F("total_ttc") - F("amount_paid"))

    # --- what a person reads, in French ---

    @admin.display(description="facture", ordering="number")
    def invoice_label(self, obj):
        if obj.number and obj.kind == Kind.INVOICE:
            return obj.number
        return str(obj)

    @admin.display(description="total HT", ordering="total_ht")
    def total_ht_display(self, obj):
        return eur(obj.total_ht) if obj.pk else "—"

    @admin.display(description="TVA")
    def total_vat_display(self, obj):
        if not obj.pk:
            return "—"
        rates = ", ".join(
            f"{format_rate(Decimal(row['rate']))} sur {format_eur(Decimal(row['base_ht']))}"
            for row in obj.vat_breakdown or []
        )
        return f"{format_eur(obj.total_vat)} ({rates})" if rates else format_eur(obj.total_vat)

    @admin.display(description="total TTC", ordering="total_ttc")
    def total_ttc_display(self, obj):
        return eur(obj.total_ttc) if obj.pk else "—"

    @admin.display(description="montant réglé")
    def amount_paid_display(self, obj):
        return eur(obj.amount_paid) if obj.pk else "—"

    def _open(self, obj) -> bool:
        return obj.kind == Kind.INVOICE and obj.status in OPEN_STATUSES

    @admin.display(description="reste dû", ordering="_balance_due")
    def balance_due_display(self, obj):
        return format_eur(obj.balance_due) if self._open(obj) else "—"

    @admin.display(description="reste dû")
    def balance_due_detail(self, obj):
        if not obj.pk or not self._open(obj):
            return "—"
        due = format_eur(obj.balance_due)
        if obj.due_date and obj.due_date < timezone.localdate():
            days = (timezone.localdate() - obj.due_date).days
            return format_html(
                "<strong>{}</strong> (échue depuis {} jour{})", due, days, "s" if days > 1 else ""
            )
        return format_html("<strong>{}</strong>", due)

    @admin.display(description="statut", ordering="status")
    def status_display(self, obj):
        extra = []
        if obj.review_reason and obj.status in (Status.PENDING_REVIEW, Status.REJECTED):
            extra.append(obj.review_reason)
        if obj.disputed_since:
            extra.append("en litige")
        if not extra:
            return obj.get_status_display()
        return format_html("{}<br><small>{}</small>", obj.get_status_display(), " · ".join(extra))

    @admin.display(description="paiements reçus")
    def payments(self, obj):
        if obj is None or obj.pk is None or obj.kind != Kind.INVOICE:
            return "—"
        lines = invoice_payments(obj)
        context = {"lines": lines, "invoice": obj, "open": self._open(obj)}
        return mark_safe(render_to_string("admin/invoicing/invoice_payments.html", context))  # noqa: S308

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

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "due_date" and field is not None:
            field.help_text = (
                "Vide : date d'émission + délai de paiement du client (à défaut, celui du profil vendeur)."
            )
        return field

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
        if "due_date" in fields and fields["due_date"] is None:
            # The client's payment terms (the firm's by default) from the issue date, as a new one gets.
            client = fields.get("client") or form.instance.client
            issued_on = fields.get("issue_date") or form.instance.issue_date or timezone.localdate()
            fields["due_date"] = issued_on + dt.timedelta(days=client_payment_terms(client))
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

    # --- the list: totals of what is shown, and its export ---

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "export_url": reverse("admin:invoicing_invoice_export")}
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if cl is not None:
            response.context_data["list_totals"] = invoice_list_totals(cl.queryset)
        return response

    EXPORT_HEADER = [
        "Numéro",
        "Type",
        "Statut",
        "Client",
        "Date d'émission",
        "Échéance",
        "Total HT",
        "TVA",
        "Total TTC",
        "Montant réglé",
        "Reste dû",
        "Réglée le",
        "Origine",
        "Objet",
    ]

    def export_view(self, request):
        """The list as it is filtered on screen, as a CSV that French Excel opens cleanly."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).queryset.select_related("client")

        def rows():
            yield self.EXPORT_HEADER
            for invoice in queryset.iterator(chunk_size=2000):
                yield [
                    invoice.number or str(invoice),
                    invoice.get_kind_display(),
                    invoice.get_status_display(),
                    invoice.client.name,
                    invoice.issue_date,
                    invoice.due_date,
                    invoice.total_ht,
                    invoice.total_vat,
                    invoice.total_ttc,
                    invoice.amount_paid,
                    invoice.balance_due if self._open(invoice) else Decimal("0.00"),
                    invoice.paid_date,
                    invoice.get_origin_display(),
                    invoice.subject,
                ]

        return french_excel_response(rows(), filename=f"factures-{timezone.localdate():%Y-%m-%d}.csv")

    # --- the invoice's own page: the moves the lifecycle allows from its state ---

    def get_urls(self):
        def view(name, function):
            return path(
                f"<int:pk>/{name}/",
                self.admin_site.admin_view(function),
                name=f"invoicing_invoice_{name.replace('-', '_')}",
            )

        custom = [
            path("export.csv", self.admin_site.admin_view(self.export_view), name="invoicing_invoice_export"),
            view("submit", self.submit_view),
            view("approve", self.approve_view),
            view("reject", self.reject_view),
            view("send-back", self.send_back_view),
            view("credit-note", self.credit_note_view),
        ]
        return custom + super().get_urls()

    def invoice_actions(self, request, invoice: Invoice) -> list[dict]:
        """The buttons of the invoice page: what ``transitions_from`` allows, for who may do it."""
        moves = transitions_from(invoice)
        approver = request.user.has_perm(APPROVE_PERMISSION)
        is_invoice = invoice.kind == Kind.INVOICE
        actions = []

        def add(name, label, method, danger=False):
            url = reverse(f"admin:invoicing_invoice_{name.replace('-', '_')}", args=[invoice.pk])
            actions.append({"name": name, "label": label, "url": url, "method": method, "danger": danger})

        if is_invoice and Status.PENDING_REVIEW in moves and self.has_change_permission(request, invoice):
            add("submit", "Soumettre à validation", "post")
        if approver and invoice.status == Status.PENDING_REVIEW and Status.APPROVED in moves:
            add("approve", "Approuver et émettre…", "get")
        if approver and Status.REJECTED in moves:
            add("reject", "Rejeter…", "get", danger=True)
        if approver and invoice.status != Status.DRAFT and Status.DRAFT in moves:
            add("send-back", "Renvoyer en brouillon", "post")
        if approver and is_invoice and Status.CANCELLED in moves:
            add("credit-note", "Créer un avoir…", "get")
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = self.get_object(request, object_id)
        if invoice is not None:
            extra_context = {
                **(extra_context or {}),
                "invoice_actions": self.invoice_actions(request, invoice),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def _invoice(self, request, pk) -> Invoice:
        invoice = self.get_object(request, str(pk))
        if invoice is None or not self.has_view_or_change_permission(request, invoice):
            raise Http404
        return invoice

    def _back(self, invoice):
        return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))

    def _allowed(self, request, invoice, name) -> bool:
        if any(action["name"] == name for action in self.invoice_actions(request, invoice)):
            return True
        self.message_user(
            request,
            f"{invoice} est « {invoice.get_status_display()} » : « {name} » n'est pas possible "
            "(ou vous n'en avez pas le droit).",
            messages.ERROR,
        )
        return False

    def _page(self, request, invoice, template, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "invoice": invoice,
            "back_url": reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
            **context,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    def _report(self, request, result, done: str) -> None:
        for invoice in result.succeeded:
            self.message_user(request, f"{invoice_label(invoice)} {done}.", messages.SUCCESS)
        for invoice, reason in result.failed:
            self.message_user(request, f"{invoice_label(invoice)} : {reason}", messages.ERROR)

    def submit_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        invoice = self._invoice(request, pk)
        if not self._allowed(request, invoice, "submit"):
            return self._back(invoice)
        report = invoices_submit(invoices=[invoice.pk], user=request.user)
        for refused, reason in report.refused:
            self.message_user(request, f"{invoice_label(refused)} : non soumise, {reason}", messages.ERROR)
        for submitted, decision in report.approved:
            self.message_user(
                request,
                f"{invoice_label(submitted)} : approuvée par la règle et émise ({decision.message}).",
                messages.SUCCESS,
            )
        for submitted, decision in report.rejected:
            self.message_user(
                request, f"{invoice_label(submitted)} : rejetée, {decision.message}", messages.ERROR
            )
        for submitted, decision in report.review:
            self.message_user(
                request,
                f"{invoice_label(submitted)} : soumise, à valider ({decision.message}).",
                messages.SUCCESS,
            )
        return self._back(invoice)

    def approve_view(self, request, pk):
        """Approving issues the invoice: its definitive number is taken now, so a confirmation page first."""
        invoice = self._invoice(request, pk)
        if not self._allowed(request, invoice, "approve"):
            return self._back(invoice)
        if request.method == "POST" and request.POST.get("post") == "yes":
            self._report(
                request, invoices_approve(invoices=[invoice.pk], user=request.user), "approuvée et émise"
            )
            return self._back(invoice)
        return self._page(
            request,
            invoice,
            "admin/invoicing/invoice/action_confirm.html",
            title=f"Approuver et émettre {invoice}",
            warning=(
                "Approuver émet cette facture : elle reçoit maintenant son numéro définitif, qui ne peut "
                "plus être repris. Une erreur ne se corrigera ensuite que par un avoir."
            ),
            submit_label="Approuver et émettre",
        )

    def reject_view(self, request, pk):
        invoice = self._invoice(request, pk)
        if not self._allowed(request, invoice, "reject"):
            return self._back(invoice)
        reason, error = request.POST.get("reason", "").strip(), ""
        if request.method == "POST" and request.POST.get("post") == "yes":
            if reason:
                result = invoices_reject(invoices=[invoice.pk], user=request.user, reason=reason)
                self._report(request, result, "rejetée")
                return self._back(invoice)
            error = "Indiquez le motif du rejet : il est conservé dans l'historique de la facture."
        return self._page(
            request,
            invoice,
            "admin/invoicing/invoice/action_confirm.html",
            title=f"Rejeter {invoice}",
            ask_reason=True,
            reason=reason,
            error=error,
            submit_label="Rejeter",
        )

    def send_back_view(self, request, pk):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        invoice = self._invoice(request, pk)
        if not self._allowed(request, invoice, "send-back"):
            return self._back(invoice)
        result = invoices_send_back(invoices=[invoice.pk], user=request.user)
        self._report(request, result, "renvoyée en brouillon")
        return self._back(invoice)

    def credit_note_view(self, request, pk):
        """A credit note for the whole invoice, for some of its lines, or for an amount; issued at once."""
        invoice = self._invoice(request, pk)
        if not self._allowed(request, invoice, "credit-note"):
            return self._back(invoice)
        lines = list(invoice.lines.all())
        rates = sorted({line.vat_rate for line in lines})
        errors, values = [], request.POST
        if request.method == "POST" and values.get("post") == "yes":
            specs, errors = credit_note_lines(values, invoice=invoice, lines=lines, rates=rates)
            reason = values.get("reason", "").strip()
            if not reason:
                errors.append("Indiquez le motif de l'avoir : il figure sur l'avoir et dans l'historique.")
            if not errors:
                try:
                    note = credit_note_create(
                        invoice=invoice, reason=reason, lines=specs, created_by=request.user
                    )
                except BusinessError as exc:
                    errors.append(str(exc))
                else:
                    self.message_user(
                        request,
                        f"Avoir {note.number} de {format_eur(note.total_ttc)} TTC émis sur {invoice}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[note.pk]))
        already = sum(
            (note.total_ttc for note in invoice.credit_notes.filter(status__in=FROZEN_STATUSES)), Decimal("0")
        )
        return self._page(
            request,
            invoice,
            "admin/invoicing/invoice/credit_note_form.html",
            title=f"Créer un avoir sur {invoice}",
            lines=[
                {
                    "line": line,
                    "quantity": values.get(f"quantity_{line.pk}", ""),
                    "rate": format_rate(line.vat_rate),
                }
                for line in lines
            ],
            rates=[{"value": str(rate), "label": format_rate(rate)} for rate in rates],
            modes=CREDIT_MODES,
            mode=values.get("mode", "whole"),
            amount=values.get("amount", ""),
            rate=values.get("rate", str(rates[0]) if rates else ""),
            description=values.get("description", ""),
            reason=values.get("reason", ""),
            errors=errors,
            already=already,
            remaining=invoice.total_ttc - already,
        )


def credit_note_lines(values, *, invoice, lines, rates) -> tuple[list[LineSpec] | None, list[str]]:
    """The credit note's lines from the form: None for the whole invoice; errors name the line and why."""
    mode = values.get("mode", "whole")
    if mode == "whole":
        return None, []
    errors: list[str] = []
    if mode == "lines":
        specs = []
        for position, line in enumerate(lines, start=1):
            text = values.get(f"quantity_{line.pk}", "").strip()
            if not text:
                continue
            try:
                quantity = parse_amount(text)
            except AmountError:
                errors.append(f"Ligne {position} : « {text} » n'est pas une quantité.")
                continue
            if quantity <= 0:
                continue
            if quantity > line.quantity:
                errors.append(
                    f"Ligne {position} : {text} dépasse la quantité facturée ({line.quantity.normalize():f})."
                )
                continue
            specs.append(
                LineSpec(
                    description=line.description,
                    quantity=quantity,
                    unit=line.unit,
                    unit_price=line.unit_price,
                    vat_rate=line.vat_rate,
                )
            )
        if not specs and not errors:
            errors.append("Indiquez la quantité à créditer sur au moins une ligne.")
        return specs, errors
    if mode == "amount":
        text = values.get("amount", "").strip()
        try:
            amount = quantize(parse_amount(text))
        except AmountError:
            return None, [f"Montant HT : « {text} » n'est pas un montant."]
        if amount <= 0:
            return None, ["Montant HT : il doit être positif."]
        try:
            rate = Decimal(values.get("rate", ""))
        except ArithmeticError:
            rate = None
        if rate not in rates:
            return None, ["Taux de TVA : choisissez l'un des taux de la facture."]
        description = values.get("description", "").strip() or f"Réduction sur la facture {invoice.number}"
        return [LineSpec(description=description, unit_price=amount, vat_rate=rate)], []
    return None, [f"Type d'avoir inconnu : « {mode} »."]


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("series", "year", "last_number")
    list_filter = ("series",)
