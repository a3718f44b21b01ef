from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from invoicing.validators import validate_iban, validate_siren, validate_siret, validate_vat_number
from syaga.core.text import postal_address


class VatRegime(models.TextChoices):
    RECEIPTS = "receipts", "TVA sur les encaissements (services, par défaut)"
    DEBITS = "debits", "Option pour le paiement de la TVA d'après les débits"


class SellerProfile(models.Model):
    """The firm that issues the invoices. One row, edited in the admin; copied onto each issued invoice."""

    legal_name = models.CharField("raison sociale", max_length=200)
    legal_form = models.CharField("forme juridique", max_length=50, default="SAS")
    share_capital = models.DecimalField(
        "capital social",
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    rcs_city = models.CharField("ville du RCS", max_length=100, blank=True)
    siren = models.CharField("SIREN", max_length=11, validators=[validate_siren])
    siret = models.CharField("SIRET", max_length=17, blank=True, validators=[validate_siret])
    vat_number = models.CharField(
        "n° de TVA intracommunautaire", max_length=20, blank=True, validators=[validate_vat_number]
    )
    address_line1 = models.CharField("adresse", max_length=200)
    address_line2 = models.CharField("complément d'adresse", max_length=200, blank=True)
    postal_code = models.CharField("code postal", max_length=10)
    city = models.CharField("ville", max_length=100)
    country = models.CharField("pays", max_length=2, default="FR")
    email = models.EmailField("e-mail")
    phone = models.CharField("téléphone", max_length=30, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True, validators=[validate_iban])
    bic = models.CharField("BIC", max_length=11, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField("délai de paiement (jours)", default=30)
    late_penalty_rate = models.DecimalField(
        "taux des pénalités de retard (%)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("12.15"),
        help_text="Taux annuel. À défaut de stipulation : taux BCE + 10 points.",
    )
    recovery_indemnity = models.DecimalField(
        "indemnité forfaitaire de recouvrement", max_digits=14, decimal_places=2, default=Decimal("40.00")
    )
    early_payment_discount = models.CharField(
        "conditions d'escompte", max_length=200, default="Pas d'escompte pour paiement anticipé."
    )
    vat_regime = models.CharField(
        "régime de TVA", max_length=10, choices=VatRegime.choices, default=VatRegime.RECEIPTS
    )
    four_eyes_approval = models.BooleanField(
        "validation à quatre yeux",
        default=True,
        help_text="Une facture au-dessus du seuil de relecture doit être approuvée par une autre personne "
        "que celles qui l'ont saisie ou modifiée. Ne s'applique que si deux personnes au moins peuvent "
        "approuver.",
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "profil vendeur"
        verbose_name_plural = "profil vendeur"

    def __str__(self):
        return self.legal_name

    @classmethod
    def current(cls) -> "SellerProfile | None":
        return cls.objects.order_by("pk").first()

    @property
    def address_text(self) -> str:
        return postal_address(self.address_line1, self.address_line2, self.postal_code, self.city)

    def snapshot(self) -> dict:
        """What the law asks an invoice to show of its issuer, frozen onto the invoice at issue."""
        return {
            "legal_name": self.legal_name,
            "legal_form": self.legal_form,
            "share_capital": str(self.share_capital),
            "rcs_city": self.rcs_city,
            "siren": self.siren,
            "siret": self.siret,
            "vat_number": self.vat_number,
            "address": self.address_text,
            "country": self.country,
            "email": self.email,
            "phone": self.phone,
            "iban": self.iban,
            "bic": self.bic,
            "late_penalty_rate": str(self.late_penalty_rate),
            "recovery_indemnity": str(self.recovery_indemnity),
            "early_payment_discount": self.early_payment_discount,
            "vat_regime": self.vat_regime,
        }
