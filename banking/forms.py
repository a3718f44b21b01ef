"""The forms of the banking back-office: a credit allocated by hand, a client's credit used or refunded.

Amounts are typed the French way (``1 234,56``); a form only reads and checks what was typed, the
services decide (:mod:`banking.services.decisions`, :mod:`banking.services.client_credit`).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

from banking.services.decisions import AllocationSpec
from invoicing.models import Client, Invoice
from syaga.core.money import AmountError, format_eur, parse_amount, quantize

OTHER_ROWS = 3


class FrenchAmountField(forms.CharField):
    """``1 234,56``, ``1234.56`` or empty (no amount)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 10, "inputmode": "decimal"}))
        super().__init__(**kwargs)

    def clean(self, value):
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        try:
            amount = quantize(parse_amount(text))
        except AmountError as exc:
            raise forms.ValidationError(f"« {text} » n'est pas un montant") from exc
        if amount < 0:
            raise forms.ValidationError(f"« {text} » : un montant positif")
        return amount


class AllocationForm(forms.Form):
    """One amount (and a written-off shortfall) per listed open invoice, a few more invoices by number,
    and the client to credit with what is left."""

    excess_client = forms.ModelChoiceField(
        Client.objects.none(),
        required=False,
        label="Le reste au crédit de",
        empty_label="le client des factures payées",
    )
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args, invoices: list[Invoice], clients, **kwargs):
        super().__init__(*args, **kwargs)
        self.invoices = invoices
        self.fields["excess_client"].queryset = clients
        for inv in invoices:
            self.fields[f"amount_{inv.pk}"] = FrenchAmountField(label=f"{inv.number} : montant")
            self.fields[f"write_off_{inv.pk}"] = FrenchAmountField(
                label=f"{inv.number} : écart passé en perte",
                widget=forms.TextInput(attrs={"size": 6, "inputmode": "decimal"}),
            )
        for n in range(OTHER_ROWS):
            self.fields[f"other_number_{n}"] = forms.CharField(
                label="Autre facture n°",
                required=False,
                max_length=30,
                widget=forms.TextInput(attrs={"size": 12}),
            )
            self.fields[f"other_amount_{n}"] = FrenchAmountField(label="montant")

    def rows(self):
        """(invoice, amount field, write-off field) for the template."""
        return [(inv, self[f"amount_{inv.pk}"], self[f"write_off_{inv.pk}"]) for inv in self.invoices]

    def other_rows(self):
        return [(self[f"other_number_{n}"], self[f"other_amount_{n}"]) for n in range(OTHER_ROWS)]

    def clean(self):
        data = super().clean()
        specs: list[AllocationSpec] = []
        for inv in self.invoices:
            amount = data.get(f"amount_{inv.pk}")
            write_off = data.get(f"write_off_{inv.pk}") or Decimal("0.00")
            if amount:
                specs.append(AllocationSpec(inv.pk, amount, write_off))
            elif write_off:
                self.add_error(f"amount_{inv.pk}", f"{inv.number} : un écart sans montant payé")
        listed = {inv.pk for inv in self.invoices}
        for n in range(OTHER_ROWS):
            number = (data.get(f"other_number_{n}") or "").strip().upper().replace(" ", "")
            amount = data.get(f"other_amount_{n}")
            if not number and not amount:
                continue
            if not number or not amount:
                self.add_error(f"other_number_{n}", "un numéro de facture et un montant, ou rien")
                continue
            invoice = Invoice.objects.filter(number=number).only("pk").first()
            if invoice is None:
                self.add_error(f"other_number_{n}", f"aucune facture n° {number}")
            elif invoice.pk in listed:
                self.add_error(f"other_number_{n}", f"{number} est déjà dans la liste")
            else:
                listed.add(invoice.pk)
                specs.append(AllocationSpec(invoice.pk, amount))
        data["specs"] = specs
        return data


class ClientCreditApplyForm(forms.Form):
    invoice = forms.ModelChoiceField(Invoice.objects.none(), label="Facture ouverte")
    amount = FrenchAmountField(label="Montant", required=True)
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args, invoices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["invoice"].queryset = invoices
        self.fields["invoice"].label_from_instance = lambda inv: (
            f"{inv.number} du {inv.issue_date:%d/%m/%Y} — reste dû {format_eur(inv.balance_due)}"
        )


class ClientCreditRefundForm(forms.Form):
    amount = FrenchAmountField(label="Montant remboursé", required=True)
    note = forms.CharField(label="Motif (virement, date)", max_length=300)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Motif", max_length=300)
