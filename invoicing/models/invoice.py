from decimal import Decimal

from django.db import models
from django.db.models import F, Q, Sum, Value

from invoicing.models.triggers import frozen_invoice_triggers, frozen_line_triggers
from syaga.core.errors import BusinessError

HALF_CENT = Decimal("0.005")


class InvoiceImmutableError(BusinessError):
    """An issued invoice was about to change; corrections go through a credit note."""


class Kind(models.TextChoices):
    INVOICE = "invoice", "facture"
    CREDIT_NOTE = "credit_note", "avoir"


class Status(models.TextChoices):
    DRAFT = "draft", "brouillon"
    PENDING_REVIEW = "pending_review", "à valider"
    APPROVED = "approved", "approuvée"
    ISSUED = "issued", "émise"
    SENT = "sent", "envoyée"
    PARTIALLY_PAID = "partially_paid", "partiellement payée"
    PAID = "paid", "payée"
    REJECTED = "rejected", "rejetée"
    CANCELLED = "cancelled", "annulée (avoir)"


# Once an invoice has one of these statuses its content is frozen. Which move leads where is said once, in
# invoicing.services.lifecycle (the only code that writes a status).
FROZEN_STATUSES = frozenset(
    {Status.ISSUED, Status.SENT, Status.PARTIALLY_PAID, Status.PAID, Status.CANCELLED}
)
OPEN_STATUSES = frozenset({Status.ISSUED, Status.SENT, Status.PARTIALLY_PAID})


class Origin(models.TextChoices):
    RECURRING = "recurring", "contrat récurrent"
    TIMESHEET = "timesheet", "feuilles de temps"
    MANUAL = "manual", "saisie manuelle"
    IMPORTED = "imported", "import historique"


# What may still change on an issued invoice: its payment and delivery state, never its content.
MUTABLE_AFTER_ISSUE = frozenset(
    {
        "status",
        "amount_paid",
        "paid_date",
        "sent_at",
        # The stored PDF, recorded once when the worker writes it (never rewritten: see documents.storage).
        "pdf_path",
        "pdf_sha256",
        "updated_at",
        "review_reason",
        "validation_rule",
        "cancelled_by",
        "disputed_since",
        "dispute_reason",
        "payment_promised_for",
        "delay_granted_until",
        "acknowledged_at",
    }
)

# The document's link in its series' hash chain (services.integrity): written in the issuing transaction, or
# once afterwards for a document issued without one (imported history); never changed once written. The ORM
# lets them be set on an issued row only while ``chain_hash`` is empty; PostgreSQL refuses any change after.
CHAIN_FIELDS = frozenset({"chain_index", "chain_previous", "chain_hash", "chain_imported"})
PDF_FIELDS = ("pdf_sha256", "pdf_path")

# The legal content of an issued document, refused by the database itself once issued (PostgreSQL triggers).
LEGAL_FIELDS = (
    "kind",
    "number",
    "series",
    "client_id",
    "issue_date",
    "period_start",
    "period_end",
    "due_date",
    "credited_invoice_id",
    "purchase_order",
    "subject",
    "total_ht",
    "total_vat",
    "total_ttc",
    "vat_breakdown",
    "seller_snapshot",
    "buyer_snapshot",
    "issued_at",
)


class InvoiceQuerySet(models.QuerySet):
    def invoices(self):
        return self.filter(kind=Kind.INVOICE)

    def credit_notes(self):
        return self.filter(kind=Kind.CREDIT_NOTE)

    def issued(self):
        return self.filter(status__in=FROZEN_STATUSES)

    def open(self):
        """Issued and not fully paid."""
        return self.filter(kind=Kind.INVOICE, status__in=OPEN_STATUSES)

    def pending_review(self):
        return self.filter(status=Status.PENDING_REVIEW)

    def overdue(self, on):
        return self.open().filter(due_date__lt=on)

    def totals(self) -> dict:
        agg = self.aggregate(ht=Sum("total_ht"), vat=Sum("total_vat"), ttc=Sum("total_ttc"))
        return {k: v or Decimal("0.00") for k, v in agg.items()}

    # The ORM's bulk paths skip save(); these keep issued invoices frozen there too.
    def update(self, **kwargs):
        frozen_fields = set(kwargs) - MUTABLE_AFTER_ISSUE
        if frozen_fields & CHAIN_FIELDS:
            if self.filter(status__in=FROZEN_STATUSES).exclude(chain_hash="").exists():
                raise InvoiceImmutableError("an issued document's hash chain link is written once")
            frozen_fields -= CHAIN_FIELDS
        if "status" in kwargs and kwargs["status"] not in FROZEN_STATUSES:
            frozen_fields.add("status")
        if frozen_fields and self.filter(status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError(
                f"issued invoices cannot change {', '.join(sorted(frozen_fields))}; issue a credit note"
            )
        return super().update(**kwargs)

    def delete(self):
        if self.filter(status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError("issued invoices cannot be deleted; issue a credit note")
        return super().delete()


class Invoice(models.Model):
    """An invoice or a credit note. Numbered when issued; frozen from then on."""

    kind = models.CharField("type", max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    # NULL until issued: the unique constraint on issued numbers must not see drafts as duplicates of "".
    number = models.CharField("numéro", max_length=35, null=True, blank=True, editable=False)  # noqa: DJ001
    series = models.CharField("série", max_length=4, blank=True, editable=False)
    client = models.ForeignKey(
        "invoicing.Client", on_delete=models.PROTECT, related_name="invoices", verbose_name="client"
    )
    status = models.CharField(
        "statut", max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    origin = models.CharField("origine", max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    subject = models.CharField("objet", max_length=300, blank=True)
    issue_date = models.DateField("date d'émission", null=True, blank=True, db_index=True)
    period_start = models.DateField("période du", null=True, blank=True)
    period_end = models.DateField("période au", null=True, blank=True)
    due_date = models.DateField("échéance", null=True, blank=True, db_index=True)
    contract = models.ForeignKey(
        "invoicing.Contract",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name="contrat",
    )
    credited_invoice = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        verbose_name="facture corrigée",
    )
    purchase_order = models.CharField("bon de commande", max_length=100, blank=True)
    total_ht = models.DecimalField("total HT", max_digits=14, decimal_places=2, default=Decimal("0.00"))
    total_vat = models.DecimalField("TVA", max_digits=14, decimal_places=2, default=Decimal("0.00"))
    total_ttc = models.DecimalField("total TTC", max_digits=14, decimal_places=2, default=Decimal("0.00"))
    vat_breakdown = models.JSONField("TVA par taux", default=list, blank=True)
    amount_paid = models.DecimalField(
        "montant réglé", max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    paid_date = models.DateField("réglée le", null=True, blank=True)
    cancelled_by = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name="annulée par l'avoir",
    )
    # A dispute pauses dunning; it is a flag beside the status, set and cleared by the lifecycle.
    disputed_since = models.DateTimeField("en litige depuis", null=True, blank=True, editable=False)
    dispute_reason = models.CharField("motif du litige", max_length=300, blank=True, editable=False)
    # What the client said (mail replies): a payment announced for a date, a delay the firm agreed to, a
    # plain acknowledgement. Flags beside the status, set by the lifecycle; dunning waits while they hold.
    payment_promised_for = models.DateField("paiement annoncé pour le", null=True, blank=True, editable=False)
    delay_granted_until = models.DateField("délai accordé jusqu'au", null=True, blank=True, editable=False)
    acknowledged_at = models.DateTimeField("reçue par le client le", null=True, blank=True, editable=False)
    seller_snapshot = models.JSONField("vendeur à l'émission", default=dict, blank=True, editable=False)
    buyer_snapshot = models.JSONField("client à l'émission", default=dict, blank=True, editable=False)
    review_reason = models.CharField("motif de relecture", max_length=300, blank=True)
    validation_rule = models.ForeignKey(
        "invoicing.ValidationRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="règle appliquée",
    )
    notes = models.TextField("notes", blank=True)
    issued_at = models.DateTimeField("émise le", null=True, blank=True, editable=False)
    sent_at = models.DateTimeField("envoyée le", null=True, blank=True)
    created_by = models.ForeignKey(
        "auth.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name="saisie par",
    )
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    # Tamper-evident archive: SHA-256 over the canonical legal content, chained to the series' previous one.
    chain_index = models.PositiveIntegerField("rang dans la chaîne", null=True, blank=True, editable=False)
    chain_previous = models.CharField("empreinte précédente", max_length=64, blank=True, editable=False)
    chain_hash = models.CharField("empreinte (SHA-256)", max_length=64, blank=True, editable=False)
    chain_imported = models.BooleanField("chaîné à l'import de l'historique", default=False, editable=False)
    # The stored PDF (Factur-X), relative to settings.INVOICE_PDF_DIR, and its SHA-256 when it was written.
    pdf_path = models.CharField("fichier PDF", max_length=200, blank=True, editable=False)
    pdf_sha256 = models.CharField("empreinte du PDF (SHA-256)", max_length=64, blank=True, editable=False)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = "facture"
        # Django's internal paths (related managers, refresh, deletion) use the guarded queryset too.
        base_manager_name = "objects"
        ordering = ["-issue_date", "-number", "-pk"]
        permissions = [("approve_invoice", "Peut approuver et émettre les factures")]
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=Q(number__isnull=False), name="invoice_number_unique"
            ),
            models.UniqueConstraint(
                fields=["contract", "period_start"],
                condition=Q(contract__isnull=False),
                name="invoice_contract_period_unique",
            ),
            models.CheckConstraint(
                condition=Q(total_ht__gte=0) & Q(total_vat__gte=0) & Q(total_ttc__gte=0),
                name="invoice_totals_positive",
            ),
            # TTC = HT + VAT to the cent. Written as a half-cent band because SQLite compares decimals as
            # floating point (751.60 + 150.32 != 901.92 there); on PostgreSQL numerics the band is exact.
            models.CheckConstraint(
                condition=Q(total_ttc__gte=F("total_ht") + F("total_vat") - Value(HALF_CENT))
                & Q(total_ttc__lte=F("total_ht") + F("total_vat") + Value(HALF_CENT)),
                name="invoice_ttc_is_ht_plus_vat",
            ),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="invoice_amount_paid_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=sorted(FROZEN_STATUSES)) | Q(number__isnull=False),
                name="invoice_issued_has_number",
            ),
            # Cancellation exists only as the effect of a credit note.
            models.CheckConstraint(
                condition=~Q(status=Status.CANCELLED) | Q(cancelled_by__isnull=False),
                name="invoice_cancelled_by_credit_note",
            ),
            # One link per rank of a series' chain: two documents chained at once cannot both follow the same.
            models.UniqueConstraint(
                fields=["series", "chain_index"],
                condition=Q(chain_index__isnull=False),
                name="invoice_chain_link_unique",
            ),
        ]
        triggers = frozen_invoice_triggers(
            frozen_statuses=[s.value for s in FROZEN_STATUSES],
            legal_columns=LEGAL_FIELDS,
            write_once={"chain_hash": sorted(CHAIN_FIELDS), "pdf_sha256": PDF_FIELDS},
        )
        indexes = [
            models.Index(fields=["client", "issue_date"], name="invoice_client_date"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            # The review queue: status = pending_review ORDER BY issue_date, id.
            models.Index(fields=["status", "issue_date", "id"], name="invoice_status_issue_date"),
        ]

    def __str__(self):
        label = self.get_kind_display().capitalize()
        if self.number:
            return f"{label} {self.number}"
        # Not issued yet: what it is waiting for (« Facture à valider #12 »), not « brouillon » for all.
        return f"{label} {self.get_status_display()} #{self.pk}" if self.pk else f"{label} (nouvelle)"

    def save(self, *args, **kwargs):
        # Integrity guard, not a business rule: whatever the caller, an issued invoice keeps its content.
        if self.pk is not None:
            manager = type(self).objects
            stored = manager.filter(pk=self.pk).values_list("status", "chain_hash").first()
            stored_status, stored_chain = stored or (None, "")
            if stored_status in FROZEN_STATUSES:
                if self.status not in FROZEN_STATUSES:
                    raise InvoiceImmutableError(f"{self} is issued and cannot go back to {self.status}")
                update_fields = kwargs.get("update_fields")
                mutable = MUTABLE_AFTER_ISSUE if stored_chain else MUTABLE_AFTER_ISSUE | CHAIN_FIELDS
                guarded = [
                    f
                    for f in self._meta.concrete_fields
                    if f.attname not in mutable
                    and f.name not in mutable
                    and (update_fields is None or f.name in update_fields or f.attname in update_fields)
                ]
                stored = (
                    manager.filter(pk=self.pk).values(*[f.attname for f in guarded]).first()
                    if guarded
                    else {}
                )
                changed = [f.name for f in guarded if stored[f.attname] != getattr(self, f.attname)]
                if changed:
                    raise InvoiceImmutableError(
                        f"{self} is issued: {', '.join(changed)} cannot change; issue a credit note"
                    )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.pk is not None and type(self).objects.filter(pk=self.pk, status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError(f"{self} is issued and cannot be deleted; issue a credit note")
        return super().delete(*args, **kwargs)

    @property
    def is_frozen(self) -> bool:
        return self.status in FROZEN_STATUSES

    @property
    def balance_due(self) -> Decimal:
        return self.total_ttc - self.amount_paid


class Unit(models.TextChoices):
    HOUR = "hour", "heure"
    DAY = "day", "jour"
    MONTH = "month", "mois"
    QUARTER = "quarter", "trimestre"
    YEAR = "year", "an"
    FLAT = "flat", "forfait"
    UNIT = "unit", "unité"


class InvoiceLineQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        invoice_ids = {line.invoice_id for line in objs}
        if invoice_ids and Invoice.objects.filter(pk__in=invoice_ids, status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError("lines cannot be added to an issued invoice; issue a credit note")
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **kwargs):
        if self.filter(invoice__status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError("lines of an issued invoice cannot change; issue a credit note")
        return super().update(**kwargs)

    def delete(self):
        if self.filter(invoice__status__in=FROZEN_STATUSES).exists():
            raise InvoiceImmutableError("lines of an issued invoice cannot be deleted; issue a credit note")
        return super().delete()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name="facture"
    )
    position = models.PositiveSmallIntegerField("ordre", default=0)
    description = models.CharField("désignation", max_length=500)
    quantity = models.DecimalField("quantité", max_digits=14, decimal_places=4, default=Decimal("1"))
    unit = models.CharField("unité", max_length=10, choices=Unit.choices, default=Unit.FLAT)
    unit_price = models.DecimalField("prix unitaire HT", max_digits=14, decimal_places=4)
    vat_rate = models.DecimalField(
        "taux de TVA (%)", max_digits=5, decimal_places=2, default=Decimal("20.00")
    )
    total_ht = models.DecimalField("total HT", max_digits=14, decimal_places=2, default=Decimal("0.00"))

    objects = InvoiceLineQuerySet.as_manager()

    class Meta:
        verbose_name = "ligne"
        ordering = ["invoice", "position", "pk"]
        base_manager_name = "objects"
        triggers = frozen_line_triggers(
            frozen_statuses=[s.value for s in FROZEN_STATUSES], invoice_table="invoicing_invoice"
        )
        constraints = [
            models.CheckConstraint(condition=Q(vat_rate__gte=0), name="invoice_line_vat_rate_positive"),
        ]

    def __str__(self):
        return self.description

    def save(self, *args, **kwargs):
        if self._invoice_frozen():
            raise InvoiceImmutableError("lines of an issued invoice cannot change; issue a credit note")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self._invoice_frozen():
            raise InvoiceImmutableError("lines of an issued invoice cannot be deleted; issue a credit note")
        return super().delete(*args, **kwargs)

    def _invoice_frozen(self) -> bool:
        return Invoice.objects.filter(pk=self.invoice_id, status__in=FROZEN_STATUSES).exists()


def history_lines_insert_allow(connection) -> None:
    """Let this transaction insert lines under invoices it has just inserted as issued: the history import
    only, which writes old invoices in their final state, then their lines.

    PostgreSQL's trigger otherwise refuses any line under an issued invoice. The switch is django-pgtrigger's
    own (``pgtrigger.ignore``), set with ``set_config(…, true)``: it ends with the transaction.
    """
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("history_lines_insert_allow() must run inside the import's transaction")
    pgids = [trigger.get_pgid(InvoiceLine) for trigger in InvoiceLine._meta.triggers]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)", ["{" + ",".join(pgids) + "}"])
