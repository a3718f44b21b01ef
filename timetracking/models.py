"""Time tracking: the consultants, their Clockify time entries, the rules that classify them, the reminders.

An entry is stored once: its identity is its Clockify id when the source gives one (the API), else the
consultant, the minute it started and its project (``natural_key``; a CSV export has no id). Its category is
what the rules say (``rule_category``) unless a person overrode it (``override_category``); ``category`` is
the one that counts, kept in step by the services. Once billed, an entry points at its invoice and keeps
the hours it was billed for.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Category(models.TextChoices):
    FORFAIT = "forfait", "FORFAIT (couvert par le contrat)"
    FACTURABLE = "facturable", "FACTURABLE (facturé en plus)"
    INTERNE = "interne", "INTERNE (jamais facturé)"


class Source(models.TextChoices):
    API = "api", "API Clockify"
    CSV = "csv", "export CSV"


class Consultant(models.Model):
    """A person who tracks time in Clockify; reminders and daily reports are addressed to them."""

    name = models.CharField("nom", max_length=200)
    email = models.EmailField("e-mail", blank=True)
    clockify_user_id = models.CharField(  # noqa: DJ001 - NULL: unique among the ones that have one
        "identifiant Clockify", max_length=40, null=True, blank=True, editable=False
    )
    active = models.BooleanField(
        "actif", default=True, help_text="Reçoit les rappels et compte dans l'objectif du cabinet."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "consultant"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clockify_user_id"],
                condition=Q(clockify_user_id__isnull=False),
                name="consultant_clockify_user_unique",
            ),
        ]

    def __str__(self):
        return self.name or self.email


class TimeEntryQuerySet(models.QuerySet):
    def unbilled(self):
        return self.filter(invoice__isnull=True)

    def finished(self):
        return self.filter(running=False)

    def between(self, start, end):
        """Entries that started in [start, end) (aware datetimes)."""
        return self.filter(start__gte=start, start__lt=end)


class TimeEntry(models.Model):
    source = models.CharField("source", max_length=3, choices=Source.choices, editable=False)
    clockify_id = models.CharField(  # noqa: DJ001 - NULL: a CSV export carries no id
        "identifiant Clockify", max_length=40, null=True, blank=True, editable=False
    )
    # consultant id | start minute (UTC) | project, folded: the identity of an entry without an id.
    natural_key = models.CharField(max_length=300, editable=False, db_index=True)
    consultant = models.ForeignKey(
        Consultant, on_delete=models.PROTECT, related_name="entries", verbose_name="consultant"
    )
    client = models.ForeignKey(
        "invoicing.Client",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="time_entries",
        verbose_name="client (facturation)",
    )
    client_name = models.CharField("client (Clockify)", max_length=200, blank=True)
    project = models.CharField("projet", max_length=200, blank=True)
    task = models.CharField("tâche", max_length=200, blank=True)
    description = models.TextField("description", blank=True)
    tags = models.JSONField("étiquettes", default=list, blank=True)
    start = models.DateTimeField("début")
    end = models.DateTimeField("fin", null=True, blank=True)
    duration_seconds = models.PositiveIntegerField("durée (s)", default=0)
    running = models.BooleanField("chrono en cours", default=False)
    billable = models.BooleanField("facturable dans Clockify", default=False)

    rule_category = models.CharField("catégorie des règles", max_length=10, choices=Category.choices)
    rule = models.ForeignKey(
        "timetracking.CategoryRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="règle appliquée",
    )
    override_category = models.CharField(
        "catégorie forcée", max_length=10, choices=Category.choices, blank=True
    )
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="forcée par",
    )
    override_at = models.DateTimeField("forcée le", null=True, blank=True)
    category = models.CharField("catégorie", max_length=10, choices=Category.choices, db_index=True)

    # Deleting a draft invoice frees its entries for the next billing run; an issued one cannot be deleted.
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="time_entries",
        verbose_name="facture",
    )
    # The invoice line the entry is counted in (none when its line rounded to zero hours).
    invoice_line = models.ForeignKey(
        "invoicing.InvoiceLine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="time_entries",
        verbose_name="ligne de facture",
    )
    billed_seconds = models.PositiveIntegerField("durée facturée (s)", null=True, blank=True)
    billed_at = models.DateTimeField("facturée le", null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TimeEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "saisie de temps"
        verbose_name_plural = "saisies de temps"
        ordering = ["-start", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clockify_id"], condition=Q(clockify_id__isnull=False), name="time_entry_clockify_id"
            ),
            # Without an id, consultant + start + project is the identity: a re-import creates nothing.
            models.UniqueConstraint(
                fields=["natural_key"], condition=Q(clockify_id__isnull=True), name="time_entry_natural_key"
            ),
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gte=models.F("start")),
                name="time_entry_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(invoice__isnull=True) | Q(billed_seconds__isnull=False),
                name="time_entry_billed_has_hours",
            ),
        ]
        indexes = [
            # bill_timesheets: FACTURABLE, not billed, in the month.
            models.Index(fields=["category", "invoice", "start"], name="time_entry_billing"),
            models.Index(fields=["consultant", "start"], name="time_entry_consultant_start"),
        ]

    def __str__(self):
        what = self.project or self.description or "(sans projet)"
        return f"{self.consultant} – {what} – {timezone.localtime(self.start):%d/%m/%Y %H:%M}"

    @property
    def overridden(self) -> bool:
        return bool(self.override_category)


class MatchOn(models.TextChoices):
    CLIENT = "client", "client (nom)"
    PROJECT = "project", "projet (nom)"
    TAG = "tag", "étiquette"
    DESCRIPTION = "description", "description contient le mot-clé"
    OWN_FIRM = "own_firm", "client = la société elle-même (profil vendeur)"
    CLIENT_WITH_CONTRACT = "with_contract", "client avec un contrat en cours"
    CLIENT_WITHOUT_CONTRACT = "without_contract", "client sans contrat en cours"
    NO_CLIENT = "no_client", "saisie sans client"


# What needs a text to compare with (the others decide from the entry alone).
MATCH_NEEDS_PATTERN = frozenset({MatchOn.CLIENT, MatchOn.PROJECT, MatchOn.TAG, MatchOn.DESCRIPTION})


class CategoryRule(models.Model):
    """One step of the ordered list every entry goes through; the first rule that matches decides."""

    name = models.CharField("nom", max_length=120)
    match_on = models.CharField("critère", max_length=20, choices=MatchOn.choices)
    pattern = models.CharField(
        "valeur",
        max_length=200,
        blank=True,
        help_text="Nom du client, du projet, de l'étiquette ou mot-clé de la description (majuscules, "
        "accents et ponctuation ignorés). Vide pour les critères qui n'en ont pas besoin.",
    )
    category = models.CharField("catégorie", max_length=10, choices=Category.choices)
    order = models.PositiveIntegerField("ordre", default=100)
    active = models.BooleanField("active", default=True)
    description = models.TextField("description", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    AUDITED_FIELDS = ("name", "match_on", "pattern", "category", "order", "active", "description")

    class Meta:
        verbose_name = "règle de catégorisation"
        verbose_name_plural = "règles de catégorisation"
        ordering = ["order", "pk"]

    def __str__(self):
        return f"#{self.order} {self.name}"

    def audit_state(self) -> dict:
        return {f: getattr(self, f) for f in self.AUDITED_FIELDS}


class CategoryRuleChangeLog(models.Model):
    """Who changed a categorisation rule, when, and what it was before and after."""

    rule = models.ForeignKey(CategoryRule, on_delete=models.CASCADE, related_name="changes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="par",
    )
    at = models.DateTimeField("le", auto_now_add=True)
    before = models.JSONField("avant", null=True, blank=True)
    after = models.JSONField("après", default=dict)

    class Meta:
        verbose_name = "modification de règle de catégorisation"
        verbose_name_plural = "modifications de règles de catégorisation"
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.rule}, {timezone.localtime(self.at):%d/%m/%Y %H:%M}"

    @property
    def changed_fields(self) -> list[str]:
        before = self.before or {}
        return [k for k, v in (self.after or {}).items() if before.get(k) != v]


class ClockifySyncState(models.Model):
    """How far one Clockify user's entries have been read: the next run starts from here (with overlap)."""

    workspace_id = models.CharField("espace de travail", max_length=40)
    clockify_user_id = models.CharField("utilisateur Clockify", max_length=40)
    consultant = models.ForeignKey(
        Consultant, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    synced_through = models.DateTimeField("synchronisé jusqu'au", null=True, blank=True)
    last_run_at = models.DateTimeField("dernière synchronisation", null=True, blank=True)
    entries_seen = models.PositiveIntegerField("saisies lues au dernier passage", default=0)

    class Meta:
        verbose_name = "état de synchronisation Clockify"
        verbose_name_plural = "états de synchronisation Clockify"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace_id", "clockify_user_id"], name="clockify_sync_state_unique"
            )
        ]

    def __str__(self):
        return f"{self.consultant or self.clockify_user_id}"


class ReminderKind(models.TextChoices):
    TIMER_TOO_LONG = "timer_too_long", "chrono en cours depuis trop longtemps"
    NO_TIMER = "no_timer", "aucun chrono en cours"
    HOURLY_PROGRESS = "hourly_progress", "point horaire"
    DAILY_REPORT = "daily_report", "rapport du jour"


class Reminder(models.Model):
    """A coaching message for one consultant: stored here, delivered by e-mail when the mail engine is wired.

    ``key`` makes each reminder happen once (one per running timer, per idle gap, per hour, per day), so
    running the coaching again never repeats it.
    """

    consultant = models.ForeignKey(
        Consultant, on_delete=models.CASCADE, related_name="reminders", verbose_name="destinataire"
    )
    kind = models.CharField("type", max_length=20, choices=ReminderKind.choices)
    key = models.CharField(max_length=200, editable=False)
    at = models.DateTimeField("le", db_index=True)
    for_date = models.DateField("journée")
    subject = models.CharField("objet", max_length=300)
    body = models.TextField("message")
    data = models.JSONField("chiffres", default=dict, blank=True)
    delivered_at = models.DateTimeField("envoyé le", null=True, blank=True)

    class Meta:
        verbose_name = "rappel"
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["key"], name="reminder_once")]
        indexes = [models.Index(fields=["delivered_at", "at"], name="reminder_delivery")]

    def __str__(self):
        return f"{self.get_kind_display()} – {self.consultant} – {timezone.localtime(self.at):%d/%m/%Y %H:%M}"
