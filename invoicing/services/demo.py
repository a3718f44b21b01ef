"""Demo data: SYAGA's seller profile, its nine recurring contracts, a year of history, some one-off work.

Everything goes through the same services as real use (invoice_create, the lifecycle's approval, sending,
payments, credit notes), in date order, so numbers are gapless and chronological. Deterministic: the same
day gives the same data. It fills every screen: invoices waiting for approval (the contracts without
automatic approval, a one-off job), issued this month and still to send, unpaid at every overdue level
(under 15 days, J+15, J+30, J+60, J+90), paid by transfer before the bank was connected or by cheque,
partially paid, corrected by a credit note. The recent invoices are left open: the bank demo
(``syaga.ops.demo``) pays them through banking's own matching.
"""

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from stdnum import luhn

from invoicing.models import Client, ClientAlias, Contract, Invoice, SellerProfile
from invoicing.models.contract import PERIOD_MONTHS, Period
from invoicing.models.invoice import Kind, Origin, Status, Unit
from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create
from invoicing.services.lifecycle import (
    invoice_approve_as_system,
    invoice_mark_sent,
    invoice_record_payment,
)
from syaga.core.dates import add_months, end_of_month, french_month_label

HOURLY_RATE = Decimal("110.00")

# name, legal form, town, postal code, monthly amount HT, period, auto-approve, alias as the bank writes it
SYAGA_CONTRACTS = [
    ("LAA", "SAS", "Aix-en-Provence", "13100", Decimal("1400.00"), Period.MONTHLY, True, "STE LAA"),
    ("PHARMABEST", "SARL", "Marseille", "13008", Decimal("500.00"), Period.MONTHLY, True, "PHARMABEST SARL"),
    ("BUQUET", "SAS", "Aubagne", "13400", Decimal("500.00"), Period.MONTHLY, True, "SAS BUQUET"),
    ("PETRAS", "SARL", "Marseille", "13002", Decimal("600.00"), Period.MONTHLY, False, "PETRAS SARL"),
    ("PROVENCALE", "SAS", "Toulon", "83000", Decimal("400.00"), Period.MONTHLY, True, "LA PROVENCALE"),
    ("SEXTANT", "SAS", "La Ciotat", "13600", Decimal("400.00"), Period.MONTHLY, True, "SEXTANT SAS"),
    ("QUADRIMEX", "SA", "Vitrolles", "13127", Decimal("250.00"), Period.MONTHLY, True, "QUADRIMEX SA"),
    ("GENLOG", "EURL", "Marseille", "13006", Decimal("100.00"), Period.MONTHLY, True, "GENLOG EURL"),
    ("BELFONTE", "SAS", "Cassis", "13260", Decimal("751.60"), Period.QUARTERLY, False, "BELFONTE"),
]
# The client who pays late: its invoices stay unpaid at every overdue level.
LATE_PAYER = "PETRAS"


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
    clients = {}
    for index, (name, form, city, postal_code, amount, period, auto, alias) in enumerate(SYAGA_CONTRACTS, 1):
        siren = siren_for(index)
        client = Client.objects.create(
            name=name,
            legal_form=form,
            siren=siren,
            vat_number=vat_for(siren),
            city=city,
            address_line1=f"{10 + index} avenue de la Gare",
            postal_code=postal_code,
            invoice_emails=f"compta@{name.lower()}.fr",
            auto_approve=auto,
            payment_terms_days=45 if name == "BELFONTE" else None,
        )
        clients[name] = client
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
    # One-off work billed at the hourly rate, a few times a year, and two late ones (J+15, under 15 days).
    one_off_clients = [c.client for c in contracts[:5]]
    one_off_days = [
        add_months(first_month, m) + dt.timedelta(days=rng.randint(8, 20)) for m in range(0, 10, 2)
    ]
    one_off_days += [today - dt.timedelta(days=52), today - dt.timedelta(days=40)]
    for day in one_off_days:
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
    this_month = today.replace(day=1)
    counts = {"issued": 0, "paid": 0, "pending": 0}
    issued: list[Invoice] = []
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
        # This month's invoices of the contracts without automatic approval wait for a person.
        if plan.date >= this_month and plan.contract is not None and not plan.contract.auto_approve:
            counts["pending"] += 1
            continue
        invoice = invoice_approve_as_system(
            invoice=invoice, reason="données de démonstration", issue_date=plan.date
        )
        counts["issued"] += 1
        issued.append(invoice)
        # Sent by e-mail the day they were issued, except this month's: still to send.
        if plan.date < this_month:
            invoice_mark_sent(invoice=invoice, at=_noon(plan.date), reason="données de démonstration")
        late = plan.client.name == LATE_PAYER and plan.date >= add_months(this_month, -4)
        recent = plan.date >= add_months(this_month, -1)
        if late or recent or plan.date in one_off_days[-2:]:
            continue  # overdue at every level, or left for the bank demo
        paid_on = min(invoice.due_date + dt.timedelta(days=rng.randint(-10, 25)), today)
        how = "chèque n° " + str(4_780_000 + counts["paid"]) if rng.random() < 0.1 else "virement reçu"
        invoice_record_payment(
            invoice=invoice,
            amount=invoice.total_ttc,
            paid_on=paid_on,
            reason=f"{how} (historique de démonstration)",
        )
        counts["paid"] += 1
    extra = _extras(today=today, clients=clients, issued=issued)
    return {
        "clients": len(SYAGA_CONTRACTS),
        "contracts": len(contracts),
        "invoices": counts["issued"] + counts["pending"] + extra,
        "paid": counts["paid"],
        "pending": counts["pending"] + 1,
    }


def _noon(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12)))


def _extras(*, today: dt.date, clients: dict, issued: list[Invoice]) -> int:
    """What the year of contracts does not show: a one-off job waiting for approval, a draft, a
    partial payment, a credit note cancelling an invoice and one correcting part of another. Returns the
    number of invoices it created (the credit notes aside)."""
    invoice_create(
        client=clients["SEXTANT"],
        lines=[
            LineSpec(
                description="Migration de la messagerie vers Microsoft 365", unit_price=Decimal("2400.00")
            ),
            LineSpec(
                description="Licences – première année", quantity=Decimal("12"), unit_price=Decimal("66.00")
            ),
        ],
        subject="Migration de la messagerie",
        issue_date=today,
        submit=True,
    )
    invoice_create(
        client=clients["QUADRIMEX"],
        lines=[
            LineSpec(
                description="Audit du réseau",
                quantity=Decimal("2"),
                unit=Unit.DAY,
                unit_price=Decimal("850.00"),
            )
        ],
        subject="Audit du réseau",
        issue_date=today,
    )
    paid = [
        invoice for invoice in issued if invoice.status in (Status.PAID,) and invoice.kind == Kind.INVOICE
    ]
    # A whole credit note on an old paid invoice (billed twice by mistake) and a partial one.
    if len(paid) >= 7:
        credit_note_create(invoice=paid[3], reason="facturée deux fois par erreur")
        line = paid[6].lines.first()
        credit_note_create(
            invoice=paid[6],
            reason="geste commercial : panne de sauvegarde",
            lines=[LineSpec(description=f"Remise sur {line.description}", unit_price=Decimal("50.00"))],
        )
    # A partial payment on one of the invoices left open.
    partial = next(
        (
            i
            for i in reversed(issued)
            if i.client.name == "BUQUET" and i.status in (Status.ISSUED, Status.SENT)
        ),
        None,
    )
    if partial is not None:
        invoice_record_payment(
            invoice=partial,
            amount=Decimal("200.00"),
            paid_on=today - dt.timedelta(days=3),
            reason="chèque n° 4781234, acompte",
        )
    return 2  # the one-off job waiting for approval and the draft
