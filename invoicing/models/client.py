from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from invoicing.validators import validate_siren, validate_siret, validate_vat_number
from syaga.core.text import normalize_company_name, postal_address


class ClientQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Client(models.Model):
    name = models.CharField("nom", max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    legal_form = models.CharField("forme juridique", max_length=50, blank=True)
    siren = models.CharField("SIREN", max_length=11, blank=True, validators=[validate_siren])
    siret = models.CharField("SIRET", max_length=17, blank=True, validators=[validate_siret])
    vat_number = models.CharField("n° de TVA", max_length=20, blank=True, validators=[validate_vat_number])
    address_line1 = models.CharField("adresse", max_length=200, blank=True)
    address_line2 = models.CharField("complément d'adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10, blank=True)
    city = models.CharField("ville", max_length=100, blank=True)
    country = models.CharField("pays", max_length=2, default="FR")
    invoice_emails = models.TextField(
        "e-mails de facturation", blank=True, help_text="Une adresse par ligne ou séparées par des virgules."
    )
    payment_terms_days = models.PositiveSmallIntegerField(
        "délai de paiement (jours)", null=True, blank=True, help_text="Vide : celui du profil vendeur."
    )
    hourly_rate = models.DecimalField(
        "taux horaire HT",
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Vide : le taux par défaut (110 €/h).",
    )
    auto_approve = models.BooleanField(
        "approbation automatique",
        default=False,
        help_text="Les factures récurrentes conformes au contrat partent sans relecture.",
    )
    active = models.BooleanField("actif", default=True)
    notes = models.TextField("notes", blank=True)
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = ClientQuerySet.as_manager()

    class Meta:
        verbose_name = "client"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hourly_rate__gte=0) | models.Q(hourly_rate__isnull=True),
                name="client_hourly_rate_positive",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # A derived lookup key, not a business rule: kept in step with the name wherever it is saved.
        self.normalized_name = normalize_company_name(self.name)
        super().save(*args, **kwargs)

    @property
    def email_list(self) -> list[str]:
        raw = self.invoice_emails.replace(";", ",").replace("\n", ",")
        return [e.strip() for e in raw.split(",") if e.strip()]

    @property
    def address_text(self) -> str:
        return postal_address(self.address_line1, self.address_line2, self.postal_code, self.city)

    def snapshot(self) -> dict:
        """The buyer's identity as printed, frozen onto the invoice at issue."""
        return {
            "name": self.name,
            "legal_form": self.legal_form,
            "siren": self.siren,
            "siret": self.siret,
            "vat_number": self.vat_number,
            "address": self.address_text,
            "country": self.country,
            "emails": self.email_list,
        }


class ClientAlias(models.Model):
    """Another name a client is known under: a bank label, an old spelling, a parent company."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="aliases", verbose_name="client"
    )
    name = models.CharField("autre nom", max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)

    class Meta:
        verbose_name = "autre nom"
        verbose_name_plural = "autres noms"
        constraints = [
            models.UniqueConstraint(fields=["client", "normalized_name"], name="client_alias_unique")
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.normalized_name = normalize_company_name(self.name)
        super().save(*args, **kwargs)
