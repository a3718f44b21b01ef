from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TemplateKind(models.TextChoices):
    RECURRING = "recurring", "facture de forfait récurrent"
    ONE_OFF = "one_off", "facture ponctuelle (feuilles de temps)"
    CREDIT_NOTE = "credit_note", "avoir"
    DUNNING_1 = "dunning_1", "relance niveau 1 (amicale)"
    DUNNING_2 = "dunning_2", "relance niveau 2 (ferme)"
    DUNNING_3 = "dunning_3", "relance niveau 3 (mise en demeure)"


DUNNING_KINDS = (TemplateKind.DUNNING_1, TemplateKind.DUNNING_2, TemplateKind.DUNNING_3)


def dunning_kind(level: int) -> str:
    return DUNNING_KINDS[level - 1]


class MailTemplate(models.Model):
    """The text of one kind of e-mail, edited in the admin (Django template syntax, plain text)."""

    kind = models.CharField("type", max_length=20, choices=TemplateKind.choices, unique=True)
    subject = models.CharField("objet", max_length=300)
    body = models.TextField("texte")
    days_after_due = models.PositiveSmallIntegerField(
        "jours après l'échéance",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Relances uniquement : la relance part ce nombre de jours après l'échéance.",
    )
    active = models.BooleanField(
        "active", default=True, help_text="Une relance inactive n'est jamais envoyée (les autres le restent)."
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name="modifié par",
    )

    class Meta:
        verbose_name = "modèle d'e-mail"
        verbose_name_plural = "modèles d'e-mails"
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__startswith="dunning_") | Q(days_after_due__isnull=False),
                name="mail_template_dunning_has_days",
            )
        ]

    def __str__(self):
        return self.get_kind_display()

    @property
    def level(self) -> int | None:
        return int(self.kind.rsplit("_", 1)[1]) if self.kind.startswith("dunning_") else None


class Purpose(models.TextChoices):
    INVOICE = "invoice", "envoi du document"
    REMINDER = "reminder", "relance"
    RESEND = "resend", "nouvel envoi"
    INTERNAL = "internal", "message au cabinet"


class OutboundStatus(models.TextChoices):
    QUEUED = "queued", "à envoyer"
    SENDING = "sending", "envoi en cours"
    SENT = "sent", "envoyé"
    FAILED = "failed", "échec (abandonné)"
    UNCERTAIN = "uncertain", "à vérifier (envoi interrompu)"
    CANCELLED = "cancelled", "annulé"


class OutboundMessage(models.Model):
    """One e-mail to send, sent or given up: the outbox and the send log in one row.

    ``dedupe_key`` says what the message is for (``invoice:12:send``, ``invoice:12:reminder:2``): a job that
    runs twice finds the row and adds none. ``message_id`` is fixed when the row is created, so retries and
    replies all carry the same id.
    """

    invoice = models.ForeignKey(
        "invoicing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mail_messages",
        verbose_name="facture",
    )
    purpose = models.CharField("objet de l'envoi", max_length=10, choices=Purpose.choices)
    level = models.PositiveSmallIntegerField("niveau de relance", default=0)
    sequence = models.PositiveSmallIntegerField("n° du message pour la facture", default=0)
    dedupe_key = models.CharField(max_length=120, unique=True, editable=False)
    message_id = models.CharField("Message-ID", max_length=250, unique=True)
    references = models.TextField("en réponse à", blank=True)
    to = models.TextField("destinataires")
    cc = models.TextField("copie", blank=True)
    subject = models.CharField("objet", max_length=300)
    body = models.TextField("texte")
    attach_pdf = models.BooleanField("PDF joint", default=False)
    state = models.CharField(
        "état", max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField("tentatives", default=0)
    next_attempt_at = models.DateTimeField("prochaine tentative", null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    smtp_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)
    smtp_response = models.CharField("réponse du serveur", max_length=500, blank=True)
    last_error = models.TextField("dernière erreur", blank=True)
    # The invoice's history says it was sent (lifecycle.invoice_mark_sent), done after the send commits.
    recorded_on_invoice = models.BooleanField(default=False, editable=False)
    tracking_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    opened_at = models.DateTimeField("ouvert le", null=True, blank=True)
    created_at = models.DateTimeField("créé le", default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "e-mail envoyé"
        verbose_name_plural = "e-mails envoyés (journal)"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="outbound_due"),
            models.Index(fields=["invoice", "created_at"], name="outbound_invoice"),
            models.Index(fields=["purpose", "sent_at"], name="outbound_purpose_sent"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.to}"

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.to.split(",") if a.strip()]

    @property
    def cc_list(self) -> list[str]:
        return [a.strip() for a in self.cc.split(",") if a.strip()]


class SendAttempt(models.Model):
    """One try at handing a message to the SMTP server, with the server's answer or the error."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField("le")
    ok = models.BooleanField("accepté")
    result = models.TextField("réponse ou erreur", blank=True)

    class Meta:
        verbose_name = "tentative d'envoi"
        verbose_name_plural = "tentatives d'envoi"
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.at:%d/%m/%Y %H:%M} {'accepté' if self.ok else 'échec'}"
