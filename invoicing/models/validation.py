"""Validation: the rules an invoice passes before it leaves the firm, and the audit trail of its life.

Rules are rows, not code paths: the engine (``invoicing.services.review``) knows a fixed set of checks,
and each row says which check, with which threshold and comparison, decides what, in which order.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Q

from invoicing.models.invoice import Invoice, Status
from syaga.core.money import quantize


class Check(models.TextChoices):
    TOTAL_HT = "total_ht", "total HT comparé au seuil (€)"
    CLIENT_MISSING_EMAIL = "client_missing_email", "client sans e-mail de facturation"
    CLIENT_MISSING_SIREN = "client_missing_siren", "client sans SIREN"
    LEGAL_MENTIONS_MISSING = "legal_mentions_missing", "mention légale obligatoire manquante"
    DUE_DATE_BEYOND_LEGAL_LIMIT = "due_date_beyond_legal_limit", "échéance au-delà du délai légal"
    FIRST_INVOICE_FOR_CLIENT = "first_invoice_for_client", "première facture du client"
    AMOUNT_DIFFERS_FROM_CONTRACT = "amount_differs_from_contract", "montant différent du contrat"
    HOURS_ABOVE_USUAL = "hours_above_usual", "heures au-delà du volume mensuel habituel (%)"
    RECURRING_MATCHES_CONTRACT = (
        "recurring_matches_contract",
        "récurrente conforme au contrat, client en approbation automatique",
    )


# What the threshold means for each check (shown in the admin); checks absent here take no threshold.
THRESHOLD_MEANING = {
    Check.TOTAL_HT: "montant HT en euros",
    Check.AMOUNT_DIFFERS_FROM_CONTRACT: "écart toléré en euros (0 : montant exact)",
    Check.HOURS_ABOVE_USUAL: "dépassement en % de la médiane mensuelle des 12 derniers mois",
}


class Comparison(models.TextChoices):
    LT = "lt", "<"
    LTE = "lte", "≤"
    GT = "gt", ">"
    GTE = "gte", "≥"


class Action(models.TextChoices):
    REJECT = "reject", "rejeter"
    REVIEW = "review", "relecture manuelle"
    APPROVE = "approve", "approuver automatiquement"


class ValidationRule(models.Model):
    """A step of the ordered list every invoice entering review goes through; the first that decides wins."""

    name = models.CharField("nom", max_length=120)
    check_kind = models.CharField("contrôle", max_length=40, choices=Check.choices)
    threshold = models.DecimalField(
        "seuil",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Total HT : montant en € ; écart au contrat : tolérance en € ; heures : dépassement en %.",
    )
    comparison = models.CharField(
        "comparaison",
        max_length=3,
        choices=Comparison.choices,
        blank=True,
        help_text="Pour le contrôle du total HT uniquement.",
    )
    action = models.CharField("décision", max_length=10, choices=Action.choices)
    order = models.PositiveIntegerField("ordre", default=100)
    active = models.BooleanField("active", default=True)
    description = models.TextField("description", blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    class Meta:
        verbose_name = "règle de validation"
        verbose_name_plural = "règles de validation"
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__isnull=True) | Q(threshold__gte=0),
                name="validation_rule_threshold_positive",
            ),
        ]

    def __str__(self):
        return f"#{self.order} {self.name}"

    # Fields a change log records (before/after), in this order.
    AUDITED_FIELDS = (
        "name",
        "check_kind",
        "threshold",
        "comparison",
        "action",
        "order",
        "active",
        "description",
    )

    def audit_state(self) -> dict:
        state = {f: getattr(self, f) for f in self.AUDITED_FIELDS}
        if state["threshold"] is not None:
            state["threshold"] = str(quantize(Decimal(state["threshold"])))
        return state


class RuleChangeLog(models.Model):
    """Who changed a rule, when, and what it was before and after."""

    rule = models.ForeignKey(
        ValidationRule, on_delete=models.CASCADE, related_name="changes", verbose_name="règle"
    )
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
        verbose_name = "modification de règle"
        verbose_name_plural = "modifications de règles"
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.rule}, {self.at:%d/%m/%Y %H:%M}"

    @property
    def changed_fields(self) -> list[str]:
        before = self.before or {}
        return [k for k, v in (self.after or {}).items() if before.get(k) != v]


class EventKind(models.TextChoices):
    CREATED = "created", "créée"
    EDITED = "edited", "modifiée"
    SUBMITTED = "submitted", "soumise à validation"
    REVIEW_REQUIRED = "review_required", "mise en relecture"
    AUTO_APPROVED = "auto_approved", "approuvée par une règle"
    APPROVED = "approved", "approuvée"
    REJECTED = "rejected", "rejetée"
    SENT_BACK = "sent_back", "renvoyée en brouillon"
    ISSUED = "issued", "émise (numérotée)"
    DELIVERY_QUEUED = "delivery_queued", "PDF et envoi programmés"
    SENT = "sent", "envoyée au client"
    PAYMENT = "payment", "paiement enregistré"
    PAYMENT_REVERSED = "payment_reversed", "paiement annulé"
    CREDITED = "credited", "avoir émis"
    CANCELLED = "cancelled", "annulée par avoir"
    DISPUTE_OPENED = "dispute_opened", "litige ouvert"
    DISPUTE_CLOSED = "dispute_closed", "litige clos"
    PAYMENT_PROMISED = "payment_promised", "paiement annoncé"
    DELAY_GRANTED = "delay_granted", "délai accordé"
    ACKNOWLEDGED = "acknowledged", "reçue par le client"


class InvoiceEvent(models.Model):
    """One transition of an invoice, written in the same transaction as the transition itself."""

    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="events", verbose_name="facture"
    )
    at = models.DateTimeField("le", db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="par",
    )
    kind = models.CharField("événement", max_length=20, choices=EventKind.choices)
    from_status = models.CharField("de", max_length=16, blank=True)
    to_status = models.CharField("vers", max_length=16, blank=True)
    rule = models.ForeignKey(
        ValidationRule,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name="règle",
    )
    reason = models.TextField("motif", blank=True)
    totals = models.JSONField("totaux", default=dict, blank=True)
    # For an edit: {field: [before, after]} as text, lines included.
    changes = models.JSONField("modifications", default=dict, blank=True)

    class Meta:
        verbose_name = "événement de facture"
        verbose_name_plural = "historique des factures"
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["invoice", "at"], name="invoice_event_invoice_at")]

    def __str__(self):
        return f"{self.get_kind_display()}, {self.at:%d/%m/%Y %H:%M}"

    @staticmethod
    def _status_label(status: str) -> str:
        return Status(status).label if status in Status.values else status

    @property
    def from_status_label(self) -> str:
        return self._status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return self._status_label(self.to_status)

    @property
    def changes_display(self) -> list[tuple[str, str, str]]:
        """(field label, before, after) of an edit, in French."""
        rows = []
        for name, (before, after) in (self.changes or {}).items():
            if name == "lines":
                label = "lignes"
            else:
                try:
                    label = str(Invoice._meta.get_field(name).verbose_name)
                except FieldDoesNotExist:  # a field since removed: show its code
                    label = name
            rows.append((label, before, after))
        return rows


class InvoiceToReview(Invoice):
    """The review queue ("À valider") in the admin: the invoices waiting for a decision."""

    class Meta:
        proxy = True
        verbose_name = "facture à valider"
        verbose_name_plural = "À valider"
