"""Bank accounts and transactions from Qonto, and how credits pay invoices."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone

from syaga.core.money import format_eur


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "ouvert"
    CLOSED = "closed", "clôturé"


class BankAccount(models.Model):
    qonto_id = models.CharField("id Qonto", max_length=64, unique=True)
    slug = models.CharField("identifiant Qonto", max_length=100, blank=True)
    name = models.CharField("nom", max_length=200, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    currency = models.CharField("devise", max_length=3, default="EUR")
    balance = models.DecimalField("solde", max_digits=14, decimal_places=2, default=Decimal("0.00"))
    authorized_balance = models.DecimalField(
        "solde autorisé", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    status = models.CharField("état", max_length=20, default="active", choices=AccountStatus.choices)
    main = models.BooleanField("compte principal", default=False)
    # Progress marker of the incremental sync: the newest ``updated_at`` stored for this account.
    synced_through = models.DateTimeField("synchronisé jusqu'au", null=True, blank=True)
    updated_at = models.DateTimeField("mis à jour le", auto_now=True)

    class Meta:
        verbose_name = "compte bancaire"
        verbose_name_plural = "comptes bancaires"
        # The dashboard shows the bank balance and every receivable: not for every staff user.
        permissions = [("view_cash_dashboard", "Peut voir le tableau de trésorerie et d'impayés")]

    def __str__(self):
        return self.name or self.iban or self.qonto_id


class Side(models.TextChoices):
    CREDIT = "credit", "crédit"
    DEBIT = "debit", "débit"


class TransactionStatus(models.TextChoices):
    """The bank's status of a transaction (Qonto ``status``)."""

    COMPLETED = "completed", "effectuée"
    PENDING = "pending", "en cours"
    DECLINED = "declined", "refusée"
    REVERSED = "reversed", "annulée"


class OperationType(models.TextChoices):
    """Qonto's ``operation_type`` (qonto-clockify.md A3), as a French reader calls them."""

    INCOME = "income", "virement reçu"
    TRANSFER = "transfer", "virement"
    SWIFT_INCOME = "swift_income", "virement international reçu"
    CARD = "card", "carte"
    CARD_ACQUIRER_PAYOUT = "card_acquirer_payout", "encaissement carte"
    DIRECT_DEBIT = "direct_debit", "prélèvement"
    DIRECT_DEBIT_COLLECTION = "direct_debit_collection", "prélèvement encaissé"
    DIRECT_DEBIT_HOLD = "direct_debit_hold", "réserve de prélèvement"
    QONTO_FEE = "qonto_fee", "frais Qonto"
    CHEQUE = "cheque", "chèque"
    RECALL = "recall", "rappel de virement"
    PAY_LATER = "pay_later", "paiement différé"
    FINANCING_INSTALLMENT = "financing_installment", "échéance de financement"
    ACCOUNT_REMUNERATION = "account_remuneration", "rémunération du compte"
    INVESTMENT = "investment", "placement"
    OTHER = "other", "autre"


class MatchStatus(models.TextChoices):
    """Where a credit stands: the machine's verdicts, then what a person decided (never re-decided)."""

    UNPROCESSED = "unprocessed", "à traiter"
    UNRECOGNISED = "unrecognised", "non reconnu"
    SUGGESTED = "suggested", "suggéré"
    MATCHED = "matched", "rapproché automatiquement"
    CONFIRMED = "confirmed", "confirmé par une personne"
    NO_INVOICE = "no_invoice", "ne paie aucune facture"


# What the machine may decide again; a person's decision (confirmed, pays no invoice, an undo) it leaves.
MACHINE_STATUSES = (MatchStatus.UNPROCESSED, MatchStatus.SUGGESTED, MatchStatus.UNRECOGNISED)
# A credit booked on invoices (or on a client's credit).
ALLOCATED_STATUSES = (MatchStatus.MATCHED, MatchStatus.CONFIRMED)


class BankTransactionQuerySet(models.QuerySet):
    def credits(self):
        return self.filter(side=Side.CREDIT)

    def completed(self):
        return self.filter(status=TransactionStatus.COMPLETED)

    def unprocessed(self):
        return self.credits().completed().filter(match_status=MatchStatus.UNPROCESSED)

    def waiting_for_person(self):
        """Completed credits a person must look at: suggestions to confirm and credits not recognised."""
        return (
            self.credits()
            .completed()
            .filter(match_status__in=[MatchStatus.SUGGESTED, MatchStatus.UNRECOGNISED])
        )

    def unmatched(self):
        """Former name of :meth:`waiting_for_person`, kept for callers written before the statuses split."""
        return self.waiting_for_person()


class BankTransaction(models.Model):
    """One Qonto transaction, stored once (its Qonto ``id`` is unique); an update replaces its fields."""

    qonto_id = models.CharField("id Qonto", max_length=64, unique=True)
    transaction_id = models.CharField("référence Qonto", max_length=200, blank=True, db_index=True)
    account = models.ForeignKey(
        BankAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transactions",
        verbose_name="compte",
    )
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2)
    currency = models.CharField("devise", max_length=3, default="EUR")
    side = models.CharField("sens", max_length=6, choices=Side.choices)
    operation_type = models.CharField(
        "type d'opération", max_length=40, blank=True, choices=OperationType.choices
    )
    status = models.CharField(
        "état à la banque",
        max_length=20,
        default=TransactionStatus.COMPLETED,
        choices=TransactionStatus.choices,
    )
    label = models.CharField("libellé", max_length=300, blank=True)
    clean_counterparty_name = models.CharField("contrepartie", max_length=300, blank=True)
    reference = models.CharField("référence du virement", max_length=300, blank=True)
    note = models.TextField("note", blank=True)
    counterparty_iban = models.CharField("IBAN émetteur", max_length=34, blank=True, db_index=True)
    counterparty_bic = models.CharField("BIC émetteur", max_length=11, blank=True)
    emitted_at = models.DateTimeField("émise le", null=True, blank=True)
    settled_at = models.DateTimeField("date de valeur", null=True, blank=True, db_index=True)
    qonto_updated_at = models.DateTimeField("mise à jour Qonto", null=True, blank=True)
    raw = models.JSONField("données Qonto", default=dict, blank=True)
    match_status = models.CharField(
        "rapprochement",
        max_length=12,
        choices=MatchStatus.choices,
        default=MatchStatus.UNPROCESSED,
        db_index=True,
    )
    match_score = models.PositiveSmallIntegerField("score", null=True, blank=True)
    # Codes with their values, rendered in French by banking.services.reasons.reason_text.
    match_reasons = models.JSONField("raisons", default=list, blank=True)
    # Suggestions waiting for a person:
    # [{"allocations": [{"invoice_id", "invoice", "amount", "write_off"}], "excess", "excess_client_id",
    #   "score", "reasons"}]
    match_candidates = models.JSONField("suggestions", default=list, blank=True)
    processed_at = models.DateTimeField("traité le", null=True, blank=True)
    # Set when a person decides (allocation, confirmation, "pays no invoice", undo): no machine run
    # decides this credit again.
    decided_by = models.ForeignKey(
        "auth.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="décidé par",
    )
    decided_at = models.DateTimeField("décidé le", null=True, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("mise à jour le", auto_now=True)

    objects = BankTransactionQuerySet.as_manager()

    class Meta:
        verbose_name = "transaction bancaire"
        verbose_name_plural = "transactions bancaires"
        ordering = ["-settled_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="bank_transaction_amount_positive"),
        ]
        indexes = [models.Index(fields=["side", "match_status"], name="banktx_side_match")]

    def __str__(self):
        amount = format_eur(self.amount)
        if self.settled_at:
            return f"{timezone.localdate(self.settled_at):%d/%m/%Y} {amount} {self.label}".strip()
        return f"{amount} {self.label}".strip()

    @property
    def is_decided_by_person(self) -> bool:
        return self.decided_at is not None or self.match_status in (
            MatchStatus.CONFIRMED,
            MatchStatus.NO_INVOICE,
        )


class PaymentAllocation(models.Model):
    """The part of a credit transaction that pays one invoice, and why it was decided."""

    class Method(models.TextChoices):
        AUTO = "auto", "automatique"
        MANUAL = "manual", "par une personne"
        IMPORTED = "imported", "historique"

    transaction = models.ForeignKey(
        BankTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocations",
        verbose_name="transaction",
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="allocations", verbose_name="facture"
    )
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2)
    write_off = models.DecimalField(
        "écart passé en perte", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    method = models.CharField("décidé", max_length=10, choices=Method.choices, default=Method.AUTO)
    score = models.PositiveSmallIntegerField("score", null=True, blank=True)
    reasons = models.JSONField("raisons", default=list, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="par"
    )
    created_at = models.DateTimeField("le", auto_now_add=True)

    class Meta:
        verbose_name = "affectation de paiement"
        verbose_name_plural = "affectations de paiements"
        constraints = [
            models.UniqueConstraint(fields=["transaction", "invoice"], name="allocation_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(condition=Q(write_off__gte=0), name="allocation_write_off_positive"),
        ]

    def __str__(self):
        return f"{format_eur(self.amount)} → {self.invoice}"


class ClientCredit(models.Model):
    """What the firm owes a client: money received beyond its invoices (trop-perçu), to use or refund.

    One row per client, locked (``SELECT … FOR UPDATE``) by every movement so the balance never goes
    below zero when two people use it at once; the movements say where each euro came from and went.
    """

    client = models.OneToOneField(
        "invoicing.Client", on_delete=models.PROTECT, related_name="bank_credit", verbose_name="client"
    )
    balance = models.DecimalField(
        "solde disponible", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    updated_at = models.DateTimeField("mis à jour le", auto_now=True)

    class Meta:
        verbose_name = "crédit client (trop-perçu)"
        verbose_name_plural = "crédits clients (trop-perçus)"
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="client_credit_balance_positive"),
        ]

    def __str__(self):
        return f"{self.client} : {format_eur(self.balance)}"


class ClientCreditMovement(models.Model):
    """One change of a client's credit: an excess received, its use on an invoice, a refund, a reversal."""

    class Kind(models.TextChoices):
        EXCESS = "excess", "trop-perçu reçu"
        APPLIED = "applied", "imputé sur une facture"
        REFUNDED = "refunded", "remboursé au client"
        CANCELLED = "cancelled", "annulé (affectation défaite)"
        RESTORED = "restored", "rendu (imputation défaite)"

    # How each kind moves the balance.
    SIGN = {Kind.EXCESS: 1, Kind.APPLIED: -1, Kind.REFUNDED: -1, Kind.CANCELLED: -1, Kind.RESTORED: 1}

    credit = models.ForeignKey(
        ClientCredit, on_delete=models.PROTECT, related_name="movements", verbose_name="crédit client"
    )
    kind = models.CharField("mouvement", max_length=10, choices=Kind.choices)
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2)
    transaction = models.ForeignKey(
        BankTransaction,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="client_credit_movements",
        verbose_name="transaction",
    )
    invoice = models.ForeignKey(
        "invoicing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="client_credit_movements",
        verbose_name="facture",
    )
    # An undo points at the movement it takes back; a movement is taken back once.
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name="annule",
    )
    reason = models.CharField("motif", max_length=300, blank=True)
    actor = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="par"
    )
    at = models.DateTimeField("le", default=timezone.now)

    class Meta:
        verbose_name = "mouvement de crédit client"
        verbose_name_plural = "mouvements de crédit client"
        ordering = ["-at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="client_credit_movement_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {format_eur(self.amount)}"

    @property
    def signed_amount(self) -> Decimal:
        return self.amount * self.SIGN[self.Kind(self.kind)]


class MatchEvent(models.Model):
    """The audit row of a person's decision on a credit, written in the transaction that makes it."""

    class Kind(models.TextChoices):
        ALLOCATED = "allocated", "affecté à la main"
        CONFIRMED = "confirmed", "suggestion confirmée"
        NO_INVOICE = "no_invoice", "ne paie aucune facture"
        UNDONE = "undone", "décision annulée"

    transaction = models.ForeignKey(
        BankTransaction, on_delete=models.PROTECT, related_name="match_events", verbose_name="transaction"
    )
    kind = models.CharField("décision", max_length=12, choices=Kind.choices)
    from_status = models.CharField("avant", max_length=12, choices=MatchStatus.choices)
    to_status = models.CharField("après", max_length=12, choices=MatchStatus.choices)
    # What was booked (or taken back): [{"invoice_id", "invoice", "amount", "write_off"}], and the excess.
    allocations = models.JSONField("affectations", default=list, blank=True)
    excess = models.DecimalField(
        "porté au crédit du client", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    excess_client = models.ForeignKey(
        "invoicing.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="client crédité",
    )
    reason = models.CharField("motif", max_length=300, blank=True)
    actor = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="par"
    )
    at = models.DateTimeField("le", default=timezone.now)

    class Meta:
        verbose_name = "décision de rapprochement"
        verbose_name_plural = "historique des rapprochements"
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.get_kind_display()} ({timezone.localtime(self.at):%d/%m/%Y %H:%M})"


class PayerIdentity(models.Model):
    """A payer name or IBAN confirmed for a client: what the matcher learns from a person's confirmation."""

    client = models.ForeignKey(
        "invoicing.Client", on_delete=models.CASCADE, related_name="payer_identities", verbose_name="client"
    )
    iban = models.CharField("IBAN", max_length=34, blank=True, db_index=True)
    name = models.CharField("nom du payeur", max_length=300, blank=True)
    normalized_name = models.CharField("nom normalisé", max_length=300, blank=True, db_index=True)
    confirmed_at = models.DateTimeField("confirmé le", auto_now_add=True)

    class Meta:
        verbose_name = "payeur connu"
        verbose_name_plural = "payeurs connus"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "iban", "normalized_name"], name="payer_identity_unique"
            ),
        ]

    def __str__(self):
        return f"{self.name or self.iban} → {self.client}"


class WebhookEvent(models.Model):
    """A Qonto webhook delivery, kept once per event id (Qonto retries and duplicates)."""

    event_id = models.CharField("id de l'événement", max_length=64, unique=True)
    event_type = models.CharField("type", max_length=50)
    transaction_qonto_id = models.CharField("id Qonto de la transaction", max_length=64, blank=True)
    payload = models.JSONField("contenu", default=dict)
    received_at = models.DateTimeField("reçu le", auto_now_add=True)
    processed_at = models.DateTimeField("traité le", null=True, blank=True)

    class Meta:
        verbose_name = "événement webhook"
        verbose_name_plural = "événements webhook"

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class BalanceSnapshot(models.Model):
    account = models.ForeignKey(
        BankAccount, on_delete=models.CASCADE, related_name="snapshots", verbose_name="compte"
    )
    date = models.DateField("date")
    balance = models.DecimalField("solde", max_digits=14, decimal_places=2)
    created_at = models.DateTimeField("enregistré le", auto_now_add=True)

    class Meta:
        verbose_name = "solde du jour"
        verbose_name_plural = "soldes quotidiens"
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="balance_snapshot_unique")]

    def __str__(self):
        return f"{self.account} {self.date:%d/%m/%Y} : {format_eur(self.balance)}"


class OverdueAlert(models.Model):
    """An overdue invoice crossed J+15/30/60/90 after its due date: raised once per level."""

    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.CASCADE, related_name="overdue_alerts", verbose_name="facture"
    )
    level = models.PositiveSmallIntegerField("niveau (jours)")
    days_late = models.PositiveIntegerField("jours de retard")
    balance_due = models.DecimalField("reste dû", max_digits=14, decimal_places=2)
    raised_on = models.DateField("levée le")
    acknowledged = models.BooleanField("vue", default=False)
    created_at = models.DateTimeField("créée le", auto_now_add=True)

    class Meta:
        verbose_name = "alerte d'impayé"
        verbose_name_plural = "alertes d'impayés"
        ordering = ["-raised_on", "-level"]
        constraints = [models.UniqueConstraint(fields=["invoice", "level"], name="overdue_alert_unique")]

    def __str__(self):
        return f"{self.invoice} J+{self.level}"


class QontoCredential(models.Model):
    """OAuth tokens for Qonto, the refresh token encrypted with a key derived from SECRET_KEY."""

    access_token_encrypted = models.TextField("jeton d'accès (chiffré)", blank=True)
    refresh_token_encrypted = models.TextField("jeton de renouvellement (chiffré)", blank=True)
    expires_at = models.DateTimeField("expire le", null=True, blank=True)
    updated_at = models.DateTimeField("mis à jour le", auto_now=True)

    class Meta:
        verbose_name = "jeton Qonto"
        verbose_name_plural = "jetons Qonto"
        # Authorizing Qonto gives this application read access to the firm's bank account.
        permissions = [("connect_qonto", "Peut connecter le compte Qonto (autorisation OAuth)")]

    def __str__(self):
        return f"jeton Qonto (expire {self.expires_at:%d/%m/%Y %H:%M})" if self.expires_at else "jeton Qonto"
