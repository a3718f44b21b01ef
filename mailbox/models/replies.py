from django.conf import settings
from django.db import models
from django.db.models import Q


class DisputeType(models.TextChoices):
    AMOUNT_ERROR = "amount_error", "erreur de montant"
    NOT_DELIVERED = "not_delivered", "prestation non réalisée"
    DUPLICATE_PAID = "duplicate_paid", "doublon ou déjà payée"
    OTHER = "other", "autre"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "ouvert"
    IN_PROGRESS = "in_progress", "en cours de traitement"
    RESOLVED = "resolved", "résolu"


class Dispute(models.Model):
    """A client contests an invoice: dunning pauses (the invoice's dispute flag) until it is resolved."""

    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="disputes", verbose_name="facture"
    )
    client = models.ForeignKey(
        "invoicing.Client", on_delete=models.PROTECT, related_name="disputes", verbose_name="client"
    )
    message = models.ForeignKey(
        "mailbox.InboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="disputes",
        verbose_name="e-mail d'origine",
    )
    type = models.CharField("type", max_length=16, choices=DisputeType.choices, default=DisputeType.OTHER)
    urgency = models.PositiveSmallIntegerField("urgence (1 à 5)", default=3)
    state = models.CharField("état", max_length=12, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    summary = models.TextField("ce que dit le client", blank=True)
    amount_at_stake = models.DecimalField("montant en jeu", max_digits=14, decimal_places=2)
    opened_at = models.DateTimeField("ouvert le", db_index=True)
    alerted_at = models.DateTimeField("cabinet prévenu le", null=True, blank=True)
    started_at = models.DateTimeField("pris en charge le", null=True, blank=True)
    resolved_at = models.DateTimeField("résolu le", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="résolu par",
    )
    resolution_note = models.TextField("résolution", blank=True)

    class Meta:
        verbose_name = "litige"
        verbose_name_plural = "litiges"
        ordering = ["state", "-urgency", "opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(urgency__gte=1) & Q(urgency__lte=5), name="dispute_urgency_1_5"
            ),
            models.CheckConstraint(
                condition=~Q(state="resolved") | (Q(resolved_at__isnull=False) & ~Q(resolution_note="")),
                name="dispute_resolved_has_note",
            ),
            models.CheckConstraint(condition=Q(amount_at_stake__gte=0), name="dispute_amount_positive"),
            # One dispute in progress per invoice: a second complaint joins it.
            models.UniqueConstraint(
                fields=["invoice"], condition=~Q(state="resolved"), name="dispute_one_open_per_invoice"
            ),
        ]
        indexes = [models.Index(fields=["state", "opened_at"], name="dispute_status_opened")]

    def __str__(self):
        return f"Litige {self.invoice} ({self.get_type_display()}, urgence {self.urgency})"


class DelayStatus(models.TextChoices):
    PENDING = "pending", "à décider"
    GRANTED = "granted", "accordé"
    REFUSED = "refused", "refusé"


class DelayRequest(models.Model):
    """A client asks for more time or a payment plan: a person decides (granting holds the reminders)."""

    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="delay_requests", verbose_name="facture"
    )
    message = models.ForeignKey(
        "mailbox.InboundMessage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="delay_requests",
        verbose_name="e-mail d'origine",
    )
    requested_until = models.DateField("demandé jusqu'au", null=True, blank=True)
    summary = models.TextField("ce que demande le client", blank=True)
    state = models.CharField(
        "décision", max_length=8, choices=DelayStatus.choices, default=DelayStatus.PENDING
    )
    granted_until = models.DateField("accordé jusqu'au", null=True, blank=True)
    decided_at = models.DateTimeField("décidé le", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="décidé par",
    )
    decision_note = models.TextField("note", blank=True)
    created_at = models.DateTimeField("reçue le", auto_now_add=True)

    class Meta:
        verbose_name = "demande de délai"
        verbose_name_plural = "demandes de délai"
        ordering = ["state", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="granted") | Q(granted_until__isnull=False), name="delay_granted_has_date"
            )
        ]

    def __str__(self):
        return f"Délai pour {self.invoice} ({self.get_state_display()})"


class Todo(models.Model):
    """Something a person must do about a reply: answer a question, link a message to its invoice."""

    title = models.CharField("à faire", max_length=300)
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_todos",
        verbose_name="facture",
    )
    client = models.ForeignKey(
        "invoicing.Client",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_todos",
        verbose_name="client",
    )
    message = models.ForeignKey(
        "mailbox.InboundMessage",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="todos",
        verbose_name="e-mail",
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True, db_index=True)
    done = models.BooleanField("fait", default=False)
    done_at = models.DateTimeField("fait le", null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="fait par",
    )

    class Meta:
        verbose_name = "à faire"
        verbose_name_plural = "à faire (questions des clients)"
        ordering = ["done", "created_at"]
        indexes = [models.Index(fields=["done", "created_at"], name="todo_open")]

    def __str__(self):
        return self.title
