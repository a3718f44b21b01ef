"""Demo data: SYAGA's seller profile, its nine recurring contracts, a year of history, some one-off work.

Everything goes through the same services as real use (invoice_create, the lifecycle's approval and
payments), in date order, so numbers are gapless and chronological.
Deterministic: the same day gives the same data.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from stdnum import luhn

from invoicing.models import Client, ClientAlias, Contract, Invoice, SellerProfile
from invoicing.models.contract import PERIOD_MONTHS, Period
from invoicing.models.invoice import Origin, Unit
from invoicing.services.invoices import LineSpec, invoice_create
from invoicing.services.lifecycle import invoice_approve_as_system, invoice_record_payment
from syaga.core.dates import add_months, end_of_month, french_month_label

HOURLY_RATE = Decimal("110.00")

# name, legal form, city, monthly amount HT, period, auto-approve, alias as the bank writes it
SYAGA_CONTRACTS = [
    ("LAA", "SAS", "Aix-en-Provence", Decimal("1400.00"), Period.MONTHLY, True, "STE LAA"),
    ("PHARMABEST", "SARL", "Marseille", Decimal("500.00"), Period.MONTHLY, True, "PHARMABEST SARL"),
    ("BUQUET", "SAS", "Aubagne", Decimal("500.00"), Period.MONTHLY, True, "SAS BUQUET"),
    ("PETRAS", "SARL", "Marseille", Decimal("600.00"), Period.MONTHLY, False, "PETRAS SARL"),
    ("PROVENCALE", "SAS", "Toulon", Decimal("400.00"), Period.MONTHLY, True, "LA PROVENCALE"),
    ("SEXTANT", "SAS", "La Ciotat", Decimal("400.00"), Period.MONTHLY, True, "SEXTANT SAS"),
    ("QUADRIMEX", "SA", "Vitrolles", Decimal("250.00"), Period.MONTHLY, True, "QUADRIMEX SA"),
    ("GENLOG", "EURL", "Marseille", Decimal("100.00"), Period.MONTHLY, True, "GENLOG EURL"),
    ("BELFONTE", "SAS", "Cassis", Decimal("751.60"), Period.QUARTERLY, False, "BELFONTE"),
]


def siren_for(index: int) -> str:
    base = f"{81234560 + index * 7919:08d}"[-8:]
    return base + luhn.calc_check_digit(base)


def vat_for(siren: str) -> str:
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


@dataclass
class _Planned:
    date: dt.date
    client: Client
    lines: list[LineSpec]
    origin: str
    subject: str
    contract: Contract | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None


def seller_seed() -> SellerProfile:
    seller = SellerProfile.current()
    if seller:
        return seller
    siren = siren_for(0)
    return SellerProfile.objects.create(
        legal_name="SYAGA Consulting",
        legal_form="SAS",
        share_capital=Decimal("10000.00"),
        rcs_city="Marseille",
        siren=siren,
        siret=siren + "00015" if luhn.is_valid(siren + "00015") else _siret(siren),
        vat_number=vat_for(siren),
        address_line1="12 rue de la République",
        postal_code="13001",
        city="Marseille",
        email="facturation@syaga.fr",
        phone="04 91 00 00 00",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPPXXX",
        payment_terms_days=30,
    )


def _siret(siren: str) -> str:
    for nic in range(1, 10000):
        base = f"{siren}{nic:04d}"
        candidate = base + luhn.calc_check_digit(base)
        if luhn.is_valid(candidate):
            return candidate
    raise AssertionError("no SIRET found")  # pragma: no cover


@transaction.atomic
def demo_seed(*, today: dt.date) -> dict:
    """Load the demo on an empty database. Returns counts."""
    if Invoice.objects.exists():
        return {"skipped": True}
    rng = random.Random(2025)
    seller_seed()
    first_month = add_months(today.replace(day=1), -12)
    plans: list[_Planned] = []
    contracts = []
    for index, (name, form, city, amount, period, auto, alias) in enumerate(SYAGA_CONTRACTS, start=1):
        siren = siren_for(index)
        client = Client.objects.create(
            name=name,
            legal_form=form,
            siren=siren,
            vat_number=vat_for(siren),
            city=city,
            address_line1=f"{10 + index} avenue de la Gare",
            postal_code=f"13{index:03d}",
            invoice_emails=f"compta@{name.lower()}.fr",
            auto_approve=auto,
        )
        ClientAlias.objects.create(client=client, name=alias)
        months = PERIOD_MONTHS[period]
        contract = Contract.objects.create(
            client=client,
            label="Forfait infogérance",
            amount_ht=amount,
            period=period,
            start_date=first_month,
            next_billing_date=first_month,
            auto_approve=auto,
        )
        contracts.append(contract)
        start = first_month
        while start <= today:
            end = end_of_month(add_months(start, months - 1))
            label = (
                f"Forfait infogérance – {french_month_label(start)}"
                if months == 1
                else f"Forfait infogérance – {french_month_label(start)} à {french_month_label(end)}"
            )
            plans.append(
                _Planned(
                    date=start,
                    client=client,
                    origin=Origin.RECURRING,
                    subject=label,
                    contract=contract,
                    period_start=start,
                    period_end=end,
                    lines=[
                        LineSpec(
                            description=label,
                            unit_price=amount,
                            unit=Unit.MONTH if months == 1 else Unit.QUARTER,
                        )
                    ],
                )
            )
            start = add_months(start, months)
        contract.next_billing_date = start
        contract.save(update_fields=["next_billing_date"])
    # One-off work billed at the hourly rate, a few times a year.
    one_off_clients = [c.client for c in contracts[:5]]
    for month in range(0, 12, 2):
        day = add_months(first_month, month) + dt.timedelta(days=rng.randint(8, 20))
        client = rng.choice(one_off_clients)
        hours = Decimal(rng.choice(["3.5", "6", "7.5", "12", "16", "21"]))
        plans.append(
            _Planned(
                date=day,
                client=client,
                origin=Origin.TIMESHEET,
                subject=f"Interventions ponctuelles – {french_month_label(day)}",
                lines=[
                    LineSpec(
                        description="Intervention sur site et à distance",
                        quantity=hours,
                        unit=Unit.HOUR,
                        unit_price=HOURLY_RATE,
                    )
                ],
            )
        )
    plans.sort(key=lambda p: (p.date, p.client.name))
    issued = paid = 0
    for plan in plans:
        invoice = invoice_create(
            client=plan.client,
            lines=plan.lines,
            origin=plan.origin,
            subject=plan.subject,
            issue_date=plan.date,
            contract=plan.contract,
            period_start=plan.period_start,
            period_end=plan.period_end,
            submit=True,
        )
        invoice = invoice_approve_as_system(
            invoice=invoice, reason="données de démonstration", issue_date=plan.date
        )
        issued += 1
        # Most clients pay within a few days of the due date; the last two months are still open.
        if plan.date < add_months(today, -2) or (plan.date < add_months(today, -1) and rng.random() < 0.6):
            paid_on = min(invoice.due_date + dt.timedelta(days=rng.randint(-10, 25)), today)
            invoice_record_payment(
                invoice=invoice, amount=invoice.total_ttc, paid_on=paid_on, reason="données de démonstration"
            )
            paid += 1
    return {"clients": len(SYAGA_CONTRACTS), "contracts": len(contracts), "invoices": issued, "paid": paid}
