"""The time-tracking back-office: entries (category override, annex of a timesheet invoice), categorisation
rules with their change log, consultants, reminders and the Clockify sync markers."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from invoicing.models import Invoice
from syaga.core.admin import ReadOnlyMixin
from syaga.core.errors import BusinessError
from timetracking.display import format_hours
from timetracking.models import (
    Category,
    CategoryRule,
    CategoryRuleChangeLog,
    ClockifySyncState,
    Consultant,
    Reminder,
    TimeEntry,
)
from timetracking.selectors import CATEGORY_SHORT, invoice_annex
from timetracking.services.categorisation import entry_category_override
from timetracking.services.rules import category_rule_create, category_rule_update, rule_config_errors


@admin.register(Consultant)
class ConsultantAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "clockify_user_id", "active")
    list_editable = ("active",)
    search_fields = ("name", "email")
    readonly_fields = ("clockify_user_id",)


class BilledFilter(admin.SimpleListFilter):
    title = "facturation"
    parameter_name = "billed"

    def lookups(self, request, model_admin):
        return (("no", "non facturée"), ("yes", "facturée"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(invoice__isnull=True)
        if self.value() == "yes":
            return queryset.filter(invoice__isnull=False)
        return queryset


class OverrideFilter(admin.SimpleListFilter):
    title = "catégorie forcée"
    parameter_name = "overridden"

    def lookups(self, request, model_admin):
        return (("yes", "forcée à la main"), ("no", "selon les règles"))

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(override_category="")
        if self.value() == "no":
            return queryset.filter(override_category="")
        return queryset


class InvoiceFilter(admin.SimpleListFilter):
    """The entries of one invoice (from its annex); shown only when chosen, the invoices being many."""

    title = "facture"
    parameter_name = "invoice"

    def lookups(self, request, model_admin):
        value = request.GET.get(self.parameter_name, "")
        if not value.isdigit():
            return []
        invoice = Invoice.objects.filter(pk=int(value)).first()
        return [(value, str(invoice) if invoice else f"facture #{value}")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(invoice_id=int(self.value()))
        return queryset


class IncompleteFilter(admin.SimpleListFilter):
    title = "à compléter"
    parameter_name = "incomplete"

    def lookups(self, request, model_admin):
        return (("yes", "sans projet ou sans description"),)

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Q(project="") | Q(description=""))
        return queryset


def _override_action(category):
    label = Category(category).label.split(" ")[0] if category else ""

    def action(modeladmin, request, queryset):
        done = refused = 0
        for entry in queryset:
            try:
                entry_category_override(entry=entry, category=category, user=request.user)
                done += 1
            except BusinessError as exc:
                refused += 1
                modeladmin.message_user(request, f"{entry} : {exc}", messages.WARNING)
        what = f"classée(s) {label}" if category else "rendue(s) aux règles"
        modeladmin.message_user(
            request, f"{done} saisie(s) {what}.", messages.SUCCESS if done else messages.INFO
        )

    action.__name__ = f"override_{category or 'clear'}"
    description = f"Forcer la catégorie {label}" if category else "Revenir à la catégorie des règles"
    return admin.action(description=description, permissions=["change"])(action)


class TimeEntryForm(forms.ModelForm):
    class Meta:
        model = TimeEntry
        fields = ("override_category",)


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    form = TimeEntryForm
    list_display = (
        "start_local",
        "consultant",
        "client_shown",
        "project_task",
        "description_short",
        "duration",
        "category_shown",
        "invoice_link",
    )
    list_filter = (
        "category",
        OverrideFilter,
        BilledFilter,
        IncompleteFilter,
        InvoiceFilter,
        "source",
        "consultant",
    )
    list_select_related = ("consultant", "client", "invoice")
    search_fields = ("description", "project", "task", "client_name", "consultant__name")
    date_hierarchy = "start"
    ordering = ("-start", "-pk")
    list_per_page = 100
    actions = [
        _override_action(Category.FACTURABLE),
        _override_action(Category.FORFAIT),
        _override_action(Category.INTERNE),
        _override_action(None),
    ]
    fieldsets = (
        (
            "Clockify",
            {
                "fields": (
                    "consultant",
                    "client_name",
                    "client",
                    "project",
                    "task",
                    "description",
                    "tags",
                    "start",
                    "end",
                    "duration",
                    "running",
                    "billable",
                    "source",
                    "clockify_id",
                )
            },
        ),
        (
            "Catégorie",
            {
                "fields": (
                    "rule_category",
                    "rule",
                    "override_category",
                    "override_by",
                    "override_at",
                    "category",
                )
            },
        ),
        ("Facturation", {"fields": ("invoice", "invoice_line", "billed_seconds", "billed_at")}),
    )
    readonly_fields = (
        "consultant",
        "client_name",
        "client",
        "project",
        "task",
        "description",
        "tags",
        "start",
        "end",
        "duration",
        "running",
        "billable",
        "source",
        "clockify_id",
        "rule_category",
        "rule",
        "override_by",
        "override_at",
        "category",
        "invoice",
        "invoice_line",
        "billed_seconds",
        "billed_at",
    )

    def has_add_permission(self, request):
        return False  # entries come from Clockify (API or CSV export)

    def has_delete_permission(self, request, obj=None):
        return False  # deleted in Clockify, they go at the next sync

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.invoice_id is not None:
            return (*self.readonly_fields, "override_category")
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if "override_category" in form.changed_data:
            entry_category_override(
                entry=obj, category=form.cleaned_data["override_category"], user=request.user
            )

    @admin.display(description="début", ordering="start")
    def start_local(self, obj):
        return format_html(
            "{}&nbsp;{}",
            f"{timezone.localtime(obj.start):%d/%m/%Y}",
            f"{timezone.localtime(obj.start):%H:%M}",
        )

    @admin.display(description="client")
    def client_shown(self, obj):
        if obj.client_id:
            return obj.client.name
        return obj.client_name and f"{obj.client_name} (non rattaché)"

    @admin.display(description="projet / tâche", ordering="project")
    def project_task(self, obj):
        return " / ".join(part for part in (obj.project, obj.task) if part) or "—"

    @admin.display(description="description")
    def description_short(self, obj):
        text = obj.description or "—"
        return text if len(text) <= 45 else text[:44] + "…"

    @admin.display(description="durée", ordering="duration_seconds")
    def duration(self, obj):
        return format_hours(obj.duration_seconds) + (" (en cours)" if obj.running else "")

    @admin.display(description="catégorie", ordering="category")
    def category_shown(self, obj):
        label = CATEGORY_SHORT[obj.category]
        return f"{label} (forcée)" if obj.override_category else label

    @admin.display(description="facture")
    def invoice_link(self, obj):
        if not obj.invoice_id:
            return "—"
        url = reverse("admin:timetracking_timeentry_annex", args=[obj.invoice_id])
        return format_html('<a href="{}">{}</a>', url, obj.invoice.number or f"brouillon n°{obj.invoice_id}")

    def get_urls(self):
        return [
            path(
                "annex/<int:invoice_id>/",
                self.admin_site.admin_view(self.annex_view),
                name="timetracking_timeentry_annex",
            ),
            *super().get_urls(),
        ]

    def annex_view(self, request, invoice_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Annexe de {invoice}",
            "annex": invoice_annex(invoice),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "timetracking/annex_page.html", context)


class CategoryRuleForm(forms.ModelForm):
    class Meta:
        model = CategoryRule
        fields = list(CategoryRule.AUDITED_FIELDS)

    def clean(self):
        cleaned = super().clean()
        state = {f: cleaned.get(f, getattr(self.instance, f)) for f in CategoryRule.AUDITED_FIELDS}
        for field, reason in rule_config_errors(state).items():
            self.add_error(field if field in self.fields else None, reason)
        return cleaned


class CategoryRuleChangeLogInline(admin.TabularInline):
    model = CategoryRuleChangeLog
    extra = 0
    fields = ("at", "user", "changes")
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "journal des modifications"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="modification")
    def changes(self, obj):
        if obj.before is None:
            return "création"
        return "; ".join(f"{f} : {obj.before.get(f)} → {obj.after.get(f)}" for f in obj.changed_fields)


@admin.register(CategoryRule)
class CategoryRuleAdmin(admin.ModelAdmin):
    form = CategoryRuleForm
    list_display = ("order", "name", "match_on", "pattern", "category", "active")
    list_display_links = ("name",)
    list_editable = ("order", "category", "active")
    list_filter = ("category", "active", "match_on")
    ordering = ("order", "pk")
    inlines = [CategoryRuleChangeLogInline]

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", CategoryRuleForm)
        return super().get_changelist_form(request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: entries and the change log keep pointing at it

    def save_model(self, request, obj, form, change):
        if change:
            audited = CategoryRule.AUDITED_FIELDS
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in audited}
            category_rule_update(rule=obj, user=request.user, **changes)
        else:
            fields = {f: getattr(obj, f) for f in CategoryRule.AUDITED_FIELDS}
            created = category_rule_create(user=request.user, **fields)
            obj.pk = created.pk
            obj._state.adding = False


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at_local", "consultant", "kind", "subject", "delivered_at")
    list_filter = ("kind", ("delivered_at", admin.EmptyFieldListFilter), "consultant")
    list_select_related = ("consultant",)
    search_fields = ("subject", "body", "consultant__name")
    date_hierarchy = "for_date"
    fields = ("consultant", "kind", "at", "for_date", "subject", "body", "delivered_at")

    @admin.display(description="le", ordering="at")
    def at_local(self, obj):
        return f"{timezone.localtime(obj.at):%d/%m/%Y %H:%M}"


@admin.register(ClockifySyncState)
class ClockifySyncStateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "consultant",
        "clockify_user_id",
        "workspace_id",
        "synced_through",
        "last_run_at",
        "entries_seen",
    )
    list_select_related = ("consultant",)
