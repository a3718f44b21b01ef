"""The mail back-office: templates, the send log, the inbox (with corrections), disputes, delays, to-dos, an
invoice's thread and the monthly dispute report. Actions and saves call the services; nothing here decides."""

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from invoicing.models import Invoice
from mailbox.models import (
    DelayRequest,
    DelayStatus,
    Dispute,
    DisputeStatus,
    InboundMessage,
    InboxState,
    MailTemplate,
    OutboundMessage,
    ReplyCategory,
    SendAttempt,
    Todo,
)
from mailbox.models.outbound import DUNNING_KINDS
from mailbox.selectors import dispute_report, invoice_thread
from mailbox.services import replies, sending
from mailbox.services.parsing import FLAG_LABELS
from mailbox.services.rendering import VARIABLES, invoice_context, render, template_check
from syaga.core.admin import ReadOnlyMixin
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur


def _report(modeladmin, request, done: list, failed: list[tuple[object, str]], what: str) -> None:
    if done:
        modeladmin.message_user(request, f"{len(done)} {what}.", messages.SUCCESS)
    for obj, reason in failed:
        modeladmin.message_user(request, f"{obj} : {reason}", messages.ERROR)


# --- templates ----------------------------------------------------------------------------------------------


class MailTemplateForm(forms.ModelForm):
    class Meta:
        model = MailTemplate
        fields = ("subject", "body", "days_after_due", "active")
        widgets = {
            "subject": forms.TextInput(attrs={"size": 100}),
            "body": forms.Textarea(attrs={"rows": 18, "cols": 100}),
        }

    def clean(self):
        data = super().clean()
        template_check(subject=data.get("subject", ""), body=data.get("body", ""))
        kind = self.instance.kind
        if kind in DUNNING_KINDS:
            days = data.get("days_after_due")
            if days is None:
                raise ValidationError(
                    {"days_after_due": "Une relance part un nombre de jours après l'échéance."}
                )
            others = {t.kind: t.days_after_due for t in MailTemplate.objects.filter(kind__in=DUNNING_KINDS)}
            others[kind] = days
            ordered = [others[k] for k in DUNNING_KINDS if others.get(k) is not None]
            if ordered != sorted(ordered) or len(set(ordered)) != len(ordered):
                raise ValidationError(
                    {
                        "days_after_due": "Les relances doivent se suivre : niveau 1 < niveau 2 < niveau 3 "
                        f"(ici {ordered})."
                    }
                )
        return data


@admin.register(MailTemplate)
class MailTemplateAdmin(admin.ModelAdmin):
    form = MailTemplateForm
    list_display = ("__str__", "subject", "days_after_due", "active", "updated_at", "updated_by")
    readonly_fields = ("kind", "variables", "preview", "updated_at", "updated_by")
    fields = (
        "kind",
        "subject",
        "body",
        "days_after_due",
        "active",
        "variables",
        "preview",
        "updated_at",
        "updated_by",
    )

    def has_add_permission(self, request):
        return False  # one template per kind, created with the app

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="variables possibles")
    def variables(self, obj):
        items = format_html_join("", "<li><code>{{{{ {} }}}}</code> : {}</li>", VARIABLES.items())
        return format_html("<ul>{}</ul>", items)

    @admin.display(description="aperçu (dernière facture émise)")
    def preview(self, obj):
        invoice = (
            Invoice.objects.issued().exclude(number=None).select_related("client").order_by("-pk").first()
        )
        if obj is None or obj.pk is None or invoice is None:
            return "—"
        level = obj.level or 0
        on = invoice.due_date + dt.timedelta(days=obj.days_after_due) if level and invoice.due_date else None
        subject, body = render(obj, invoice_context(invoice, on=on, level=level))
        return format_html(
            "<p><strong>{}</strong></p><pre style='white-space:pre-wrap'>{}</pre>", subject, body
        )

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


# --- the send log -------------------------------------------------------------------------------------------


class SendAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = SendAttempt
    extra = 0
    fields = ("at", "ok", "result")
    readonly_fields = fields


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "invoice",
        "purpose",
        "level",
        "to",
        "subject",
        "state",
        "attempts",
        "sent_at",
        "opened_at",
    )
    list_filter = ("state", "purpose", "level")
    list_select_related = ("invoice",)
    search_fields = ("invoice__number", "to", "subject", "message_id")
    date_hierarchy = "created_at"
    inlines = [SendAttemptInline]
    actions = ["requeue", "confirm_sent"]
    readonly_fields = [f.name for f in OutboundMessage._meta.fields]

    @admin.action(description="Renvoyer (échec ou à vérifier)", permissions=["view"])
    def requeue(self, request, queryset):
        done, failed = [], []
        for message in queryset:
            try:
                done.append(sending.outbound_requeue(message=message, actor=request.user))
            except BusinessError as exc:
                failed.append((message, str(exc)))
        sending.outbox_flush(ids=[m.pk for m in done])
        _report(self, request, done, failed, "e-mail(s) remis en file")

    @admin.action(description="Confirmer l'envoi (il est bien arrivé)", permissions=["view"])
    def confirm_sent(self, request, queryset):
        done, failed = [], []
        for message in queryset:
            try:
                done.append(sending.outbound_confirm_sent(message=message, actor=request.user))
            except BusinessError as exc:
                failed.append((message, str(exc)))
        _report(self, request, done, failed, "envoi(s) confirmé(s)")


# --- the inbox ----------------------------------------------------------------------------------------------


class InboundMessageForm(forms.ModelForm):
    class Meta:
        model = InboundMessage
        fields = ("corrected_category", "invoice")


class CategoryFilter(admin.SimpleListFilter):
    title = "catégorie (corrigée)"
    parameter_name = "final"

    def lookups(self, request, model_admin):
        return ReplyCategory.choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(corrected_category=self.value()) | queryset.filter(
                corrected_category="", category=self.value()
            )
        return queryset


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    form = InboundMessageForm
    list_display = (
        "received_at",
        "from_email",
        "subject",
        "invoice",
        "final_category_label",
        "urgency",
        "action",
        "malformed",
    )
    list_filter = (
        CategoryFilter,
        "action",
        "link_method",
        "malformed",
        ("corrected_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("invoice",)
    search_fields = ("from_email", "subject", "message_id", "invoice__number")
    date_hierarchy = "received_at"
    autocomplete_fields = ("invoice",)
    fieldsets = (
        (None, {"fields": ("received_at", "from_email", "from_name", "subject", "sent_at", "message_id")}),
        ("Ce que dit le client", {"fields": ("new_text", "text_full", "attachments_list")}),
        (
            "Classement",
            {
                "fields": (
                    "category",
                    "urgency",
                    "confidence",
                    "reasons",
                    "corrected_category",
                    "corrected_by",
                    "corrected_at",
                )
            },
        ),
        (
            "Rattachement et suite",
            {"fields": ("invoice", "link_method", "client", "action", "action_note", "thread_link")},
        ),
        ("Anomalies", {"fields": ("flags_list", "malformed", "size", "in_reply_to", "references")}),
    )
    readonly_fields = (
        "received_at",
        "from_email",
        "from_name",
        "subject",
        "sent_at",
        "message_id",
        "new_text",
        "text_full",
        "attachments_list",
        "category",
        "urgency",
        "confidence",
        "reasons",
        "corrected_by",
        "corrected_at",
        "link_method",
        "client",
        "action",
        "action_note",
        "thread_link",
        "flags_list",
        "malformed",
        "size",
        "in_reply_to",
        "references",
    )

    def has_add_permission(self, request):
        return False

    @admin.display(description="catégorie", ordering="category")
    def final_category_label(self, obj):
        if obj.corrected_category:
            return f"{obj.get_corrected_category_display()} (corrigée)"
        return obj.get_category_display()

    @admin.display(description="texte complet")
    def text_full(self, obj):
        return format_html(
            "<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>", obj.text
        )

    @admin.display(description="pièces jointes")
    def attachments_list(self, obj):
        return ", ".join(f"{a.get('name')} ({a.get('size', 0)} octets)" for a in obj.attachments) or "—"

    @admin.display(description="anomalies")
    def flags_list(self, obj):
        return ", ".join(FLAG_LABELS.get(f, f) for f in obj.flags) or "—"

    @admin.display(description="échanges")
    def thread_link(self, obj):
        if obj.invoice_id is None:
            return "—"
        url = reverse("admin:mailbox_thread", args=[obj.invoice_id])
        return format_html('<a href="{}">Échanges sur la {}</a>', url, obj.invoice)

    def save_model(self, request, obj, form, change):
        # The services compare with what is stored: they get the stored row, the form's values as arguments.
        if "invoice" in form.changed_data:
            stored = InboundMessage.objects.get(pk=obj.pk)
            replies.inbound_link(message=stored, invoice=obj.invoice, actor=request.user)
        if "corrected_category" in form.changed_data and obj.corrected_category:
            stored = InboundMessage.objects.get(pk=obj.pk)
            replies.inbound_correct(message=stored, category=obj.corrected_category, actor=request.user)

    def _correct(self, request, queryset, category):
        done = [replies.inbound_correct(message=m, category=category, actor=request.user) for m in queryset]
        _report(self, request, done, [], f"e-mail(s) classé(s) « {ReplyCategory(category).label} »")

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self.has_change_permission(request):
            return actions
        for category in ReplyCategory:

            def action(modeladmin, req, queryset, category=category.value):
                modeladmin._correct(req, queryset, category)

            name = f"correct_{category.value}"
            actions[name] = (action, name, f"Corriger : {category.label}")
        return actions

    def get_urls(self):
        return [
            path(
                "thread/<int:invoice_id>/",
                self.admin_site.admin_view(self.thread_view),
                name="mailbox_thread",
            ),
            *super().get_urls(),
        ]

    def thread_view(self, request, invoice_id: int):
        invoice = get_object_or_404(Invoice.objects.select_related("client"), pk=invoice_id)
        if not request.user.has_perm("mailbox.view_inboundmessage"):
            return redirect("admin:index")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Échanges sur la {invoice}",
            "invoice": invoice,
            "entries": invoice_thread(invoice),
            "opts": self.model._meta,
            "invoice_url": reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
        }
        return TemplateResponse(request, "admin/mailbox/thread.html", context)


# --- disputes, delays, to-dos -------------------------------------------------------------------------------


class DisputeForm(forms.ModelForm):
    class Meta:
        model = Dispute
        fields = ("type", "urgency", "state", "resolution_note")

    def clean(self):
        data = super().clean()
        if data.get("state") == DisputeStatus.RESOLVED and not (data.get("resolution_note") or "").strip():
            raise ValidationError({"resolution_note": "Dites comment le litige a été résolu."})
        if (
            self.instance.pk
            and self.instance.state == DisputeStatus.RESOLVED
            and data.get("state") != DisputeStatus.RESOLVED
        ):
            raise ValidationError(
                {"state": "Un litige résolu ne se rouvre pas : le client écrira à nouveau."}
            )
        return data


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    form = DisputeForm
    list_display = ("opened_at", "invoice", "client", "type", "urgency", "state", "amount", "age_days")
    list_filter = ("state", "type", "urgency")
    list_select_related = ("invoice", "client")
    search_fields = ("invoice__number", "client__name", "summary")
    date_hierarchy = "opened_at"
    readonly_fields = (
        "invoice",
        "client",
        "message_link",
        "summary",
        "amount_at_stake",
        "opened_at",
        "alerted_at",
        "started_at",
        "resolved_at",
        "resolved_by",
    )
    fields = (
        "invoice",
        "client",
        "message_link",
        "summary",
        "amount_at_stake",
        "type",
        "urgency",
        "state",
        "resolution_note",
        "opened_at",
        "alerted_at",
        "started_at",
        "resolved_at",
        "resolved_by",
    )
    actions = ["start"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="montant en jeu", ordering="amount_at_stake")
    def amount(self, obj):
        return format_eur(obj.amount_at_stake)

    @admin.display(description="âge (jours)")
    def age_days(self, obj):
        end = obj.resolved_at or timezone.now()
        return (end - obj.opened_at).days

    @admin.display(description="e-mail d'origine")
    def message_link(self, obj):
        if obj.message_id is None:
            return "—"
        url = reverse("admin:mailbox_inboundmessage_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message)

    def save_model(self, request, obj, form, change):
        stored = Dispute.objects.get(pk=obj.pk)
        Dispute.objects.filter(pk=obj.pk).update(type=obj.type, urgency=obj.urgency)
        try:
            if obj.state == DisputeStatus.IN_PROGRESS and stored.state == DisputeStatus.OPEN:
                replies.dispute_start(dispute=stored, actor=request.user)
            elif obj.state == DisputeStatus.RESOLVED and stored.state != DisputeStatus.RESOLVED:
                replies.dispute_resolve(dispute=stored, note=obj.resolution_note, actor=request.user)
        except BusinessError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Prendre en charge (en cours)", permissions=["change"])
    def start(self, request, queryset):
        done, failed = [], []
        for dispute in queryset:
            try:
                done.append(replies.dispute_start(dispute=dispute, actor=request.user))
            except BusinessError as exc:
                failed.append((dispute, str(exc)))
        _report(self, request, done, failed, "litige(s) pris en charge")

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="mailbox_dispute_report"),
            *super().get_urls(),
        ]

    def report_view(self, request):
        today = timezone.localdate()
        raw = request.GET.get("month", "")
        try:
            month = dt.date.fromisoformat(f"{raw}-01") if raw else today.replace(day=1)
        except ValueError:
            self.message_user(
                request, f"Mois « {raw} » illisible (attendu AAAA-MM) : mois en cours.", messages.WARNING
            )
            month = today.replace(day=1)
        previous = (month - dt.timedelta(days=1)).replace(day=1)
        following = (month + dt.timedelta(days=32)).replace(day=1)
        context = {
            **self.admin_site.each_context(request),
            "title": "Rapport mensuel des litiges",
            "report": dispute_report(month=month, today=today),
            "opts": self.model._meta,
            "previous": previous.strftime("%Y-%m"),
            "following": following.strftime("%Y-%m") if following <= today else "",
        }
        return TemplateResponse(request, "admin/mailbox/dispute_report.html", context)

    def changelist_view(self, request, extra_context=None):
        extra = {"report_url": reverse("admin:mailbox_dispute_report"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)


class DelayRequestForm(forms.ModelForm):
    decision = forms.ChoiceField(
        label="décision",
        choices=[("", "—"), (DelayStatus.GRANTED, "accorder"), (DelayStatus.REFUSED, "refuser")],
        required=False,
    )

    class Meta:
        model = DelayRequest
        fields = ("granted_until", "decision_note")

    def clean(self):
        data = super().clean()
        if data.get("decision") == DelayStatus.GRANTED and not (
            data.get("granted_until") or self.instance.requested_until
        ):
            raise ValidationError({"granted_until": "Jusqu'à quelle date le délai est-il accordé ?"})
        return data


@admin.register(DelayRequest)
class DelayRequestAdmin(admin.ModelAdmin):
    form = DelayRequestForm
    list_display = ("created_at", "invoice", "requested_until", "state", "granted_until", "decided_by")
    list_filter = ("state",)
    list_select_related = ("invoice", "decided_by")
    search_fields = ("invoice__number", "invoice__client__name")
    readonly_fields = (
        "invoice",
        "message",
        "requested_until",
        "summary",
        "state",
        "decided_at",
        "decided_by",
        "created_at",
    )
    fields = (
        "invoice",
        "message",
        "summary",
        "requested_until",
        "state",
        "decision",
        "granted_until",
        "decision_note",
        "decided_at",
        "decided_by",
        "created_at",
    )
    actions = ["grant_requested", "refuse"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        stored = DelayRequest.objects.get(pk=obj.pk)
        note = form.cleaned_data.get("decision_note", "")
        try:
            if decision == DelayStatus.GRANTED:
                until = form.cleaned_data.get("granted_until") or stored.requested_until
                replies.delay_grant(request=stored, until=until, actor=request.user, note=note)
            elif decision == DelayStatus.REFUSED:
                replies.delay_refuse(request=stored, actor=request.user, note=note)
        except BusinessError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Accorder jusqu'à la date demandée", permissions=["change"])
    def grant_requested(self, request, queryset):
        done, failed = [], []
        for delay in queryset:
            try:
                if delay.requested_until is None:
                    raise BusinessError("pas de date demandée : ouvrez la demande pour choisir la date")
                done.append(
                    replies.delay_grant(request=delay, until=delay.requested_until, actor=request.user)
                )
            except BusinessError as exc:
                failed.append((delay, str(exc)))
        _report(self, request, done, failed, "délai(s) accordé(s)")

    @admin.action(description="Refuser", permissions=["change"])
    def refuse(self, request, queryset):
        done, failed = [], []
        for delay in queryset:
            try:
                done.append(replies.delay_refuse(request=delay, actor=request.user))
            except BusinessError as exc:
                failed.append((delay, str(exc)))
        _report(self, request, done, failed, "demande(s) refusée(s)")


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ("created_at", "title", "invoice", "client", "done", "done_by")
    list_filter = ("done",)
    list_select_related = ("invoice", "client", "done_by")
    search_fields = ("title", "invoice__number", "client__name")
    readonly_fields = ("title", "invoice", "client", "message", "created_at", "done", "done_at", "done_by")
    actions = ["mark_done"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Marquer comme fait", permissions=["change"])
    def mark_done(self, request, queryset):
        done = [replies.todo_done(todo=todo, actor=request.user) for todo in queryset.filter(done=False)]
        _report(self, request, done, [], "tâche(s) faite(s)")


@admin.register(InboxState)
class InboxStateAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("account", "folder", "uidvalidity", "last_uid", "last_polled_at")
