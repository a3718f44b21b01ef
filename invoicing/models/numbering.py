from django.db import models


class InvoiceSequence(models.Model):
    """The last number handed out in a series for a year. Locked with select_for_update() when used."""

    series = models.CharField("série", max_length=4)
    year = models.PositiveSmallIntegerField("année")
    last_number = models.PositiveIntegerField("dernier numéro", default=0)

    class Meta:
        verbose_name = "séquence de numérotation"
        verbose_name_plural = "séquences de numérotation"
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="invoice_sequence_unique")]

    def __str__(self):
        return f"{self.series}{self.year}: {self.last_number}"
