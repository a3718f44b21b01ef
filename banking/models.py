"""Bank accounts and transactions from Qonto, and how credits pay invoices."""

from decimal import Decimal

from django.db import models
from django.db.models import Q


class BankAccount(models.Model):
    qonto_id = models.CharField(max_length=64, unique=True)
    slug = models.CharField(max_length=100, blank=True)
    name = models.CharField("nom", max_length=200, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    currency = models.CharField(max_length=3, default="EUR")
    balance = models.DecimalField("solde", max_digits=14, decimal_places=2, default=Decimal("0.00"))
    authorized_balance = models.DecimalField(
        "solde autorisé", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    status = models.CharField(max_length=20, default="active")
    main = models.BooleanField("compte principal", default=False)
    # Progress marker of the incremental sync: the newest ``updated_at`` stored for this account.
    synced_through = models.DateTimeField("synchronisé jusqu'au", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

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


class MatchStatus(models.TextChoices):
    UNPROCESSED = "unprocessed", "à traiter"
    MATCHED = "matched", "rapproché"
    SUGGESTED = "suggested", "suggestion à confirmer"
    UNMATCHED = "unmatched", "sans facture"


class BankTransactionQuerySet(models.QuerySet):
    def credits(self):
        return self.filter(side=Side.CREDIT)

    def completed(self):
        return self.filter(status="completed")

    def unprocessed(self):
        return self.credits().completed().filter(match_status=MatchStatus.UNPROCESSED)

    def unmatched(self):
        return self.credits().filter(match_status__in=[MatchStatus.UNMATCHED, MatchStatus.SUGGESTED])


class BankTransaction(models.Model):
    """One Qonto transaction, stored once (its Qonto ``id`` is unique); an update replaces its fields."""

    qonto_id = models.CharField("id Qonto", max_length=64, unique=True)
    transaction_id = models.CharField("référence Qonto", max_length=200, blank=True, db_index=True)
    account = models.ForeignKey(
        BankAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    side = models.CharField("sens", max_length=6, choices=Side.choices)
    operation_type = models.CharField("type d'opération", max_length=40, blank=True)
    status = models.CharField("statut", max_length=20, default="completed")
    label = models.CharField("libellé", max_length=300, blank=True)
    clean_counterparty_name = models.CharField("contrepartie", max_length=300, blank=True)
    reference = models.CharField("référence du virement", max_length=300, blank=True)
    note = models.TextField(blank=True)
    counterparty_iban = models.CharField("IBAN émetteur", max_length=34, blank=True, db_index=True)
    counterparty_bic = models.CharField("BIC émetteur", max_length=11, blank=True)
    emitted_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField("date de valeur", null=True, blank=True, db_index=True)
    qonto_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    match_status = models.CharField(
        "rapprochement",
        max_length=12,
        choices=MatchStatus.choices,
        default=MatchStatus.UNPROCESSED,
        db_index=True,
    )
    match_score = models.PositiveSmallIntegerField("score", null=True, blank=True)
    match_reasons = models.JSONField("raisons", default=list, blank=True)
    # Suggestions waiting for a person:
    # [{"allocations": [{"invoice_id", "invoice", "amount"}], "score", "reasons"}]
    match_candidates = models.JSONField("suggestions", default=list, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        return (
            f"{self.settled_at:%d/%m/%Y} {self.side} {self.amount} € {self.label}"
            if self.settled_at
            else f"{self.side} {self.amount} € {self.label}"
        )


class PaymentAllocation(models.Model):
    """The part of a credit transaction that pays one invoice, and why it was decided."""

    class Method(models.TextChoices):
        AUTO = "auto", "automatique"
        MANUAL = "manual", "manuel"
        IMPORTED = "imported", "historique"

    transaction = models.ForeignKey(
        BankTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations"
    )
    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField("montant", max_digits=14, decimal_places=2)
    write_off = models.DecimalField(
        "écart passé en perte", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.AUTO)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "affectation de paiement"
        verbose_name_plural = "affectations de paiements"
        constraints = [
            models.UniqueConstraint(fields=["transaction", "invoice"], name="allocation_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.CheckConstraint(condition=Q(write_off__gte=0), name="allocation_write_off_positive"),
        ]

    def __str__(self):
        return f"{self.amount} € → {self.invoice}"


class PayerIdentity(models.Model):
    """A payer name or IBAN confirmed for a client: what the matcher learns from a person's confirmation."""

    client = models.ForeignKey("invoicing.Client", on_delete=models.CASCADE, related_name="payer_identities")
    iban = models.CharField("IBAN", max_length=34, blank=True, db_index=True)
    name = models.CharField("nom du payeur", max_length=300, blank=True)
    normalized_name = models.CharField(max_length=300, blank=True, db_index=True)
    confirmed_at = models.DateTimeField(auto_now_add=True)

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

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=50)
    transaction_qonto_id = models.CharField(max_length=64, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "événement webhook"
        verbose_name_plural = "événements webhook"

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class BalanceSnapshot(models.Model):
    account = models.ForeignKey(BankAccount, on_delete=models.CASCADE, related_name="snapshots")
    date = models.DateField()
    balance = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "solde du jour"
        verbose_name_plural = "soldes quotidiens"
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["account", "date"], name="balance_snapshot_unique")]

    def __str__(self):
        return f"{self.account} {self.date}: {self.balance}"


class OverdueAlert(models.Model):
    """An overdue invoice crossed J+15/30/60/90 after its due date: raised once per level."""

    invoice = models.ForeignKey("invoicing.Invoice", on_delete=models.CASCADE, related_name="overdue_alerts")
    level = models.PositiveSmallIntegerField("niveau (jours)")
    days_late = models.PositiveIntegerField("jours de retard")
    balance_due = models.DecimalField("reste dû", max_digits=14, decimal_places=2)
    raised_on = models.DateField("levée le")
    acknowledged = models.BooleanField("vue", default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "alerte d'impayé"
        verbose_name_plural = "alertes d'impayés"
        ordering = ["-raised_on", "-level"]
        constraints = [models.UniqueConstraint(fields=["invoice", "level"], name="overdue_alert_unique")]

    def __str__(self):
        return f"{self.invoice} J+{self.level}"


class QontoCredential(models.Model):
    """OAuth tokens for Qonto, the refresh token encrypted with a key derived from SECRET_KEY."""

    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "jeton Qonto"
        verbose_name_plural = "jetons Qonto"
        # Authorizing Qonto gives this application read access to the firm's bank account.
        permissions = [("connect_qonto", "Peut connecter le compte Qonto (autorisation OAuth)")]

    def __str__(self):
        return f"jeton Qonto (expire {self.expires_at:%d/%m/%Y %H:%M})" if self.expires_at else "jeton Qonto"
