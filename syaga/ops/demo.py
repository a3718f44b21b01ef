"""The whole demo: invoicing's (``invoicing.services.demo``) and a bank account whose credits pay some of its
invoices, brought in and decided by banking's own services.

The bank is a stand-in for Qonto that answers ``qonto_sync`` as Qonto would (``/v2/organization`` and
``/v2/transactions`` shapes); the matcher then decides each credit (matched, suggested, not recognised), a
person confirms a suggestion, allocates a transfer by hand and marks interest as paying no invoice, each
through the service a person's click calls. No banking row is written here.
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from banking.models import BankTransaction
from banking.services.allocation import payments_match
from banking.services.decisions import (
    AllocationSpec,
    suggestion_confirm,
    transaction_allocate,
    transaction_mark_no_invoice,
)
from banking.services.matching import SUGGESTED
from banking.services.qonto_sync import qonto_sync
from invoicing.models import Invoice
from invoicing.models.invoice import OPEN_STATUSES, Kind, Origin
from invoicing.services.demo import LATE_PAYER, demo_seed
from syaga.core.dates import add_months

ACCOUNT_ID = "demo-compte-courant"
BALANCE = Decimal("24318.45")


class DemoBank:
    """Answers what ``qonto_sync`` asks a Qonto client, from transactions given in advance."""

    def __init__(self, transactions: list[dict]):
        self.transactions = transactions

    def list_bank_accounts(self) -> list[dict]:
        return [
            {
                "id": ACCOUNT_ID,
                "slug": "syaga-consulting-compte-courant",
                "name": "Compte courant (démonstration)",
                "iban": "FR7616958000013234567890123",
                "bic": "QNTOFRP1XXX",
                "currency": "EUR",
                "balance": str(BALANCE),
                "authorized_balance": str(BALANCE),
                "status": "active",
                "main": True,
            }
        ]

    def iter_transaction_pages(self, bank_account_id, updated_at_from=None, *, statuses=(), per_page=100):
        yield list(self.transactions)


def _instant(day: dt.date) -> str:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10, 30))).isoformat()


def _transaction(index: int, *, day: dt.date, side: str, amount: Decimal, label: str, reference: str = "",
                 iban: str = "", operation: str = "transfer") -> dict:  # fmt: skip
    return {
        "id": f"demo-{index:04d}",
        "transaction_id": f"demo-tx-{index:04d}",
        "bank_account_id": ACCOUNT_ID,
        "amount": str(amount),
        "side": side,
        "operation_type": operation,
        "currency": "EUR",
        "label": label,
        "clean_counterparty_name": label,
        "reference": reference,
        "status": "completed",
        "emitted_at": _instant(day),
        "settled_at": _instant(day),
        "updated_at": _instant(day),
        "income": {"counterparty_account_number": iban} if iban else None,
    }


def bank_transactions(*, today: dt.date) -> tuple[list[dict], Invoice | None]:
    """Credits for the invoices fallen due lately (most with their number as reference, one paid 40 € too
    much, one by another company without reference), an unknown transfer, interest, the usual debits.
    Returns them and the invoice a person will pay by hand with the other company's transfer."""
    recent = list(
        Invoice.objects.filter(
            kind=Kind.INVOICE,
            origin=Origin.RECURRING,  # the two late one-off jobs stay overdue (J+15 and under 15 days)
            status__in=OPEN_STATUSES,
            # last month's, which the seed left unpaid for the bank (whatever the day of the month today)
            issue_date__gte=add_months(today.replace(day=1), -1),
            issue_date__lt=today.replace(day=1),
        )
        .exclude(client__name=LATE_PAYER)
        .select_related("client")
        .order_by("issue_date", "pk")
    )
    rows, manual = [], None

    def add(**fields):
        rows.append(_transaction(len(rows) + 1, **fields))

    for position, invoice in enumerate(recent):
        alias = invoice.client.aliases.first()
        payer = alias.name if alias else invoice.client.name
        paid_on = min(invoice.due_date - dt.timedelta(days=position % 5), today - dt.timedelta(days=1))
        amount = invoice.total_ttc - invoice.amount_paid
        reference = f"Facture {invoice.number}"
        if position in (1, 3):
            # More than the invoice (beyond the automatic limit): the matcher suggests; a person confirms the
            # first (the excess goes to the client's credit), the other waits.
            add(day=paid_on, side="credit", amount=amount + 75, label=payer, reference=reference)
        elif position == 2 and manual is None:
            manual = invoice  # paid by its parent company, without reference: allocated by hand
            add(
                day=paid_on, side="credit", amount=amount, label="HOLDING MEDITERRANEE", reference="REGLEMENT"
            )
        elif position == 4:
            continue  # not paid yet
        else:
            add(day=paid_on, side="credit", amount=amount, label=payer, reference=reference)
    day = today - dt.timedelta(days=6)
    add(day=day, side="credit", amount=Decimal("1234.00"), label="M OU MME DURAND JEAN")
    day = today - dt.timedelta(days=2)
    add(day=day, side="credit", amount=Decimal("12.37"), label="INTERETS CREDITEURS", operation="income")
    for days, amount, label in [
        (28, "2150.00", "LOYER BUREAUX MARSEILLE"),
        (20, "1834.00", "URSSAF PACA"),
        (15, "89.90", "MICROSOFT 365"),
        (9, "450.00", "EXPERT COMPTABLE CABINET DURAND"),
    ]:
        add(day=today - dt.timedelta(days=days), side="debit", amount=Decimal(amount), label=label,
            operation="direct_debit")  # fmt: skip
    return rows, manual


def bank_demo(*, today: dt.date) -> dict:
    """Sync the demo bank, let the matcher decide, then do what a person would: confirm a suggestion,
    allocate a transfer by hand, mark the interest as paying no invoice."""
    rows, manual = bank_transactions(today=today)
    qonto_sync(client=DemoBank(rows))
    results = payments_match()
    # Waiting for a person: candidates offered, not applied.
    suggested = [r for r in results if r.status == SUGGESTED]
    if suggested:
        tx = BankTransaction.objects.get(pk=suggested[0].transaction_pk)
        suggestion_confirm(transaction=tx, candidate_index=0, user=None)
    holding = BankTransaction.objects.filter(label="HOLDING MEDITERRANEE").first()
    if holding is not None and manual is not None and not holding.allocations.exists():
        manual.refresh_from_db()
        spec = AllocationSpec(invoice_id=manual.pk, amount=min(holding.amount, manual.balance_due))
        transaction_allocate(
            transaction=holding, allocations=[spec], user=None, note="données de démonstration"
        )
    interest = BankTransaction.objects.filter(label="INTERETS CREDITEURS").first()
    if interest is not None and not interest.allocations.exists():
        transaction_mark_no_invoice(transaction=interest, user=None, note="intérêts créditeurs")
    return {"transactions": BankTransaction.objects.count()}


def demo_load(*, today: dt.date) -> dict:
    """The invoicing demo, then the bank's; nothing when invoices already exist."""
    counts = demo_seed(today=today)
    if counts.get("skipped"):
        return counts
    counts.update(bank_demo(today=today))
    return counts
