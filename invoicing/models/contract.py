from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models


class Period(models.TextChoices):
    MONTHLY = "monthly", "mensuel"
    QUARTERLY = "quarterly", "trimestriel"
    YEARLY = "yearly", "annuel"


PERIOD_MONTHS = {Period.MONTHLY: 1, Period.QUARTERLY: 3, Period.YEARLY: 12}


class ContractQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def due(self, on):
        """Active contracts whose next billing date has come (and which have not ended before it)."""
        return (
            self.active()
            .filter(next_billing_date__lte=on)
            .filter(models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("next_billing_date")))
        )


class Contract(models.Model):
    """A recurring flat fee: billed every period from ``start_date`` until ``end_date``."""

    client = models.ForeignKey(
        "invoicing.Client", on_delete=models.PROTECT, related_name="contracts", verbose_name="client"
    )
    label = models.CharField("libellé", max_length=200, default="Forfait infogérance")
    amount_ht = models.DecimalField(
        "montant HT", max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    vat_rate = models.DecimalField(
        "taux de TVA (%)", max_digits=5, decimal_places=2, default=Decimal("20.00")
    )
    period = models.CharField("périodicité", max_length=10, choices=Period.choices, default=Period.MONTHLY)
    start_date = models.DateField("début")
    end_date = models.DateField("fin", null=True, blank=True)
    next_billing_date = models.DateField("prochaine facturation", db_index=True)
    auto_approve = models.BooleanField("approbation automatique", default=False)
    active = models.BooleanField("actif", default=True)
    detected = models.BooleanField("détecté dans l'historique", default=False, editable=False)
    notes = models.TextField("notes", blank=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = "contrat récurrent"
        verbose_name_plural = "contrats récurrents"
        ordering = ["client__name", "label"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_ht__gte=0), name="contract_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="contract_end_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.client} – {self.label} ({self.amount_ht} € {self.get_period_display()})"

    @property
    def period_months(self) -> int:
        return PERIOD_MONTHS[self.period]
