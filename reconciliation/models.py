"""Stored three-way reconciliations: what was compared, how well it agreed, and every discrepancy.

A report is written once by :func:`reconciliation.services.reconcile` and only looked at afterwards (the
admin is read-only). Amounts stay ``Decimal`` (``expected_amount`` / ``found_amount``); the other values a
discrepancy compares (a date, a number, a count) are kept as text in ``expected`` / ``found``.
"""

from django.db import models

from syaga.core.money import format_eur, format_rate


class Side(models.TextChoices):
    DATABASE = "database", "base"
    OXYGEN = "oxygen", "export Oxygène"
    PDF = "pdf", "PDF"


class DiscrepancyKind(models.TextChoices):
    MISSING = "missing", "absent"
    UNKNOWN = "unknown", "inconnu de la base"
    AMOUNT = "amount", "montant différent"
    DATE = "date", "date différente"
    DUPLICATE = "duplicate", "numéro en double"
    OTHER_PDF = "other_pdf", "PDF d'un autre document"
    UNREADABLE = "unreadable", "PDF illisible"
    GAP = "gap", "trou de numérotation"


class Item(models.TextChoices):
    """What a discrepancy compares."""

    DOCUMENT = "document", "document"
    TOTAL_HT = "total_ht", "total HT"
    TOTAL_VAT = "total_vat", "total TVA"
    TOTAL_TTC = "total_ttc", "total TTC"
    ISSUE_DATE = "issue_date", "date d'émission"
    NUMBER = "number", "numéro"
    OCCURRENCES = "occurrences", "nombre d'occurrences"
    NUMBERING = "numbering", "numérotation"


AMOUNT_ITEMS = frozenset({Item.TOTAL_HT, Item.TOTAL_VAT, Item.TOTAL_TTC})


class ReconciliationReport(models.Model):
    created_at = models.DateTimeField("le", db_index=True)
    duration_ms = models.PositiveIntegerField("durée (ms)", default=0)
    # Sources: the export read (or none) and the PDF directory looked at.
    oxygen_file = models.CharField("export Oxygène", max_length=500, blank=True)
    oxygen_checked = models.BooleanField("export Oxygène comparé", default=False)
    oxygen_period_start = models.DateField("export : du", null=True, blank=True)
    oxygen_period_end = models.DateField("export : au", null=True, blank=True)
    pdf_dir = models.CharField("dossier des PDF", max_length=500, blank=True)
    pdf_checked = models.BooleanField("PDF comparés", default=False)
    # Counts
    documents = models.PositiveIntegerField("documents de la base", default=0)
    oxygen_documents = models.PositiveIntegerField("documents de l'export", null=True, blank=True)
    oxygen_lines = models.PositiveIntegerField("lignes d'écriture lues", null=True, blank=True)
    oxygen_ignored_lines = models.PositiveIntegerField(
        "lignes ignorées (autres comptes)", null=True, blank=True
    )
    pdf_files = models.PositiveIntegerField("PDF trouvés", null=True, blank=True)
    consistent = models.PositiveIntegerField("documents cohérents", default=0)
    discrepancy_count = models.PositiveIntegerField("écarts", default=0)
    # The share of the database's documents consistent on every side compared, in percent; none without any
    # document.
    score = models.DecimalField("score (%)", max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = "rapport de rapprochement"
        verbose_name_plural = "rapports de rapprochement"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Rapprochement n° {self.pk} du {self.created_at:%d/%m/%Y}"

    @property
    def sides(self) -> list[str]:
        """The sides compared (codes of :class:`Side`): always the database, then those that were there."""
        sides = [Side.DATABASE.value]
        if self.oxygen_checked:
            sides.append(Side.OXYGEN.value)
        if self.pdf_checked:
            sides.append(Side.PDF.value)
        return sides

    def left_out(self) -> list[str]:
        """Why a side was not compared (French)."""
        notes = []
        if not self.oxygen_checked:
            notes.append("export Oxygène non fourni : côté comptable non vérifié")
        if not self.pdf_checked:
            notes.append(f"aucun PDF dans {self.pdf_dir} : côté PDF non vérifié")
        return notes

    def score_text(self) -> str:
        """``score 98,5 % des 200 documents cohérents (base, export Oxygène, PDF)``."""
        sides = ", ".join(Side(side).label for side in self.sides)
        if self.score is None:
            text = f"pas de score : aucun document émis dans la base ({sides})"
        else:
            text = f"score {format_rate(self.score)} des {self.documents} documents cohérents ({sides})"
        if not (self.oxygen_checked and self.pdf_checked):
            text += " ; " + " ; ".join(self.left_out())
        return text

    def summary(self) -> str:
        found = f"{self.discrepancy_count} écart(s)" if self.discrepancy_count else "aucun écart"
        return f"Rapprochement n° {self.pk} : {found} ; {self.score_text()}"


class Discrepancy(models.Model):
    report = models.ForeignKey(
        ReconciliationReport,
        on_delete=models.CASCADE,
        related_name="discrepancies",
        verbose_name="rapport",
    )
    kind = models.CharField("type d'écart", max_length=12, choices=DiscrepancyKind.choices)
    number = models.CharField("numéro", max_length=60, db_index=True)
    side = models.CharField("côté", max_length=10, choices=Side.choices)
    item = models.CharField("donnée", max_length=12, choices=Item.choices, default=Item.DOCUMENT)
    expected = models.CharField("attendu (base)", max_length=200, blank=True)
    found = models.CharField("trouvé", max_length=200, blank=True)
    expected_amount = models.DecimalField(
        "montant attendu (base)", max_digits=14, decimal_places=2, null=True, blank=True
    )
    found_amount = models.DecimalField(
        "montant trouvé", max_digits=14, decimal_places=2, null=True, blank=True
    )
    reason = models.TextField("motif")

    class Meta:
        verbose_name = "écart de rapprochement"
        verbose_name_plural = "écarts de rapprochement"
        ordering = ["-report_id", "pk"]
        indexes = [models.Index(fields=["report", "kind"], name="discrepancy_report_kind")]

    def __str__(self):
        return self.reason

    def expected_text(self) -> str:
        """The expected value as a person reads it (money ``1 234,56 €``, dates ``dd/mm/yyyy``)."""
        return _shown(self.item, self.expected_amount, self.expected)

    def found_text(self) -> str:
        return _shown(self.item, self.found_amount, self.found)

    def as_dict(self) -> dict:
        """The stable JSON shape of a discrepancy (see the ``reconcile`` command's help)."""
        return {
            "kind": self.kind,
            "number": self.number,
            "side": self.side,
            "item": self.item,
            "expected": f"{self.expected_amount:.2f}" if self.expected_amount is not None else self.expected,
            "found": f"{self.found_amount:.2f}" if self.found_amount is not None else self.found,
            "reason": self.reason,
        }


def _shown(item: str, amount, text: str) -> str:
    if amount is not None:
        return format_eur(amount)
    if item == Item.ISSUE_DATE and len(text) == 10 and text[4] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text or "—"
