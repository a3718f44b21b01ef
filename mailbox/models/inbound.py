from django.conf import settings
from django.db import models


class ReplyCategory(models.TextChoices):
    ACK = "ack", "accusé de réception"
    QUESTION = "question", "question / demande"
    DISPUTE = "dispute", "contestation"
    PAYMENT = "payment", "paiement annoncé"
    DELAY = "delay", "demande de délai"
    AUTO_REPLY = "auto_reply", "réponse automatique"


class LinkMethod(models.TextChoices):
    THREAD = "thread", "réponse à notre e-mail"
    NUMBER = "number", "numéro de facture cité"
    CLIENT = "client", "adresse du client"
    MANUAL = "manual", "rattaché par une personne"
    NONE = "none", "non rattaché"


class Action(models.TextChoices):
    NONE = "", "—"
    DISPUTE = "dispute", "litige ouvert"
    DISPUTE_JOINED = "dispute_joined", "ajouté au litige en cours"
    PROMISE = "promise", "paiement annoncé enregistré"
    DELAY = "delay", "demande de délai à décider"
    TODO = "todo", "à faire"
    ACK = "ack", "facture reçue par le client"
    IGNORED = "ignored", "ignoré"
    TO_LINK = "to_link", "à rattacher à une facture"
    FAILED = "failed", "erreur (voir la note)"


class InboxState(models.Model):
    """How far the inbox was read: one row per account and folder (UIDVALIDITY, last UID done)."""

    account = models.CharField("compte", max_length=200)
    folder = models.CharField("dossier", max_length=200)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField("dernier UID traité", default=0)
    last_polled_at = models.DateTimeField("dernière lecture", null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "dossier surveillé"
        verbose_name_plural = "dossiers surveillés"
        constraints = [models.UniqueConstraint(fields=["account", "folder"], name="inbox_state_unique")]

    def __str__(self):
        return f"{self.account} / {self.folder}"


class InboundMessage(models.Model):
    """A message read from the inbox: stored once (Message-ID), linked, classified, acted on."""

    account = models.CharField("compte", max_length=200, blank=True)
    folder = models.CharField("dossier", max_length=200, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    message_id = models.CharField("Message-ID", max_length=250, unique=True)
    in_reply_to = models.CharField(max_length=500, blank=True)
    references = models.TextField(blank=True)
    from_email = models.CharField("de", max_length=254, blank=True, db_index=True)
    from_name = models.CharField("nom", max_length=200, blank=True)
    to = models.TextField("à", blank=True)
    subject = models.CharField("objet", max_length=500, blank=True)
    sent_at = models.DateTimeField("daté du", null=True, blank=True)
    received_at = models.DateTimeField("lu le", auto_now_add=True, db_index=True)
    headers = models.JSONField("en-têtes utiles", default=dict, blank=True)
    text = models.TextField("texte", blank=True)
    new_text = models.TextField("texte nouveau (sans la citation)", blank=True)
    html = models.TextField(blank=True)
    attachments = models.JSONField("pièces jointes", default=list, blank=True)
    size = models.PositiveIntegerField("taille (octets)", default=0)
    flags = models.JSONField("anomalies", default=list, blank=True)
    malformed = models.BooleanField("mal formé", default=False, db_index=True)
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_replies",
        verbose_name="facture",
    )
    client = models.ForeignKey(
        "invoicing.Client",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mail_replies",
        verbose_name="client",
    )
    link_method = models.CharField("rattachement", max_length=10, choices=LinkMethod.choices, default="none")
    category = models.CharField("catégorie", max_length=12, choices=ReplyCategory.choices, blank=True)
    urgency = models.PositiveSmallIntegerField("urgence", null=True, blank=True)
    confidence = models.DecimalField("confiance", max_digits=4, decimal_places=2, null=True, blank=True)
    reasons = models.TextField("raisons du classement", blank=True)
    corrected_category = models.CharField(
        "catégorie corrigée", max_length=12, choices=ReplyCategory.choices, blank=True
    )
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name="corrigé par",
    )
    corrected_at = models.DateTimeField("corrigé le", null=True, blank=True, editable=False)
    action = models.CharField("suite donnée", max_length=16, choices=Action.choices, blank=True)
    action_note = models.TextField("note", blank=True)

    class Meta:
        verbose_name = "e-mail reçu"
        verbose_name_plural = "e-mails reçus"
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["invoice", "sent_at"], name="inbound_invoice"),
            models.Index(fields=["category", "received_at"], name="inbound_category"),
            models.Index(fields=["corrected_at"], name="inbound_corrected"),
        ]

    def __str__(self):
        return f"{self.from_email} : {self.subject}"[:120]

    @property
    def final_category(self) -> str:
        """The category a person gave, else the classifier's."""
        return self.corrected_category or self.category
