"""The matcher's run: every unprocessed credit decided, its decision written, its payments booked.

:func:`payments_match` loads one snapshot of the open invoices and the clients (a handful of queries) and
of the credits (only the columns the matcher reads, never Qonto's raw object), lets
:class:`banking.services.matching.Matcher` decide them oldest first, and writes the decisions a thousand at
a time in one database transaction: allocation rows, payments through the invoice lifecycle, excesses on
the clients' credit, and the six match columns of each credit (one UPDATE statement sent for all rows).
Memory stays flat with the number of credits, and a person's decision is never touched: only credits no
person has decided are read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db import transaction as db_transaction
from django.utils import timezone

from banking.models import MACHINE_STATUSES, BankTransaction, PayerIdentity, PaymentAllocation, Side
from banking.services.client_credit import Excess, client_credits_receive
from banking.services.matching import (
    FEE_LEAVE_OPEN,
    FEE_WRITE_OFF,
    MATCHED,
    ClientSnapshot,
    CreditSnapshot,
    Decision,
    Matcher,
    MatchingConfig,
    OpenInvoice,
    from_cents,
    to_cents,
)
from banking.services.reasons import reasons_text
from invoicing.models import Client, ClientAlias, Invoice
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.services.lifecycle import Payment, invoices_record_payments
from syaga.core.errors import InputError
from syaga.core.money import ZERO, format_eur

WRITE_CHUNK = 1000
# What the matcher reads of a credit: never ``raw`` (Qonto's whole object, kilobytes per row).
CREDIT_COLUMNS = (
    "pk",
    "transaction_id",
    "qonto_id",
    "amount",
    "label",
    "clean_counterparty_name",
    "reference",
    "note",
    "counterparty_iban",
    "settled_at",
    "emitted_at",
)
MATCH_COLUMNS = (
    "match_status",
    "match_score",
    "match_reasons",
    "match_candidates",
    "processed_at",
    "updated_at",
)


def _setting_cents(name: str, default: str) -> int:
    value = str(getattr(settings, name, default))
    try:
        cents = to_cents(Decimal(value))
    except ArithmeticError as exc:
        raise InputError(f"« {value} » n'est pas un montant", where=f"settings.{name}") from exc
    if cents < 0:
        raise InputError(f"« {value} » doit être positif", where=f"settings.{name}")
    return cents


def matching_config() -> MatchingConfig:
    """Thresholds from the settings (``MATCHING_FEE_TOLERANCE``, ``MATCHING_NAMED_OVERPAYMENT_LIMIT``…)."""
    policy = getattr(settings, "MATCHING_FEE_POLICY", FEE_WRITE_OFF)
    if policy not in (FEE_WRITE_OFF, FEE_LEAVE_OPEN):
        raise InputError(
            f"doit valoir « {FEE_WRITE_OFF} » ou « {FEE_LEAVE_OPEN} », pas « {policy} »",
            where="settings.MATCHING_FEE_POLICY",
        )
    return MatchingConfig(
        fee_tolerance_cents=_setting_cents("MATCHING_FEE_TOLERANCE", "2.00"),
        fee_tolerance_percent=Decimal(str(getattr(settings, "MATCHING_FEE_TOLERANCE_PERCENT", "0.5"))),
        fee_policy=policy,
        overpayment_tolerance_cents=_setting_cents("MATCHING_OVERPAYMENT_TOLERANCE", "5.00"),
        named_overpayment_cents=_setting_cents("MATCHING_NAMED_OVERPAYMENT_LIMIT", "50.00"),
    )


@dataclass(slots=True)
class MatchResult:
    """What the matcher decided for one credit (the ``--json`` line of ``match_payments``)."""

    transaction_pk: int
    transaction_id: str
    status: str
    allocations: list[dict] = field(default_factory=list)
    score: int = 0
    reasons: list = field(default_factory=list)  # codes with values (banking.services.reasons)
    excess: str = "0.00"

    def as_json(self) -> dict:
        return {
            "transaction_id": self.transaction_id,
            "status": self.status,
            "allocations": [{"invoice": a["invoice"], "amount": a["amount"]} for a in self.allocations],
            "client_credit": self.excess,
            "score": self.score,
            "reasons": reasons_text(self.reasons),
        }


def _local_date(instant) -> dt.date | None:
    return timezone.localdate(instant) if instant else None


def matcher_build(*, lock: bool = False, config: MatchingConfig | None = None) -> Matcher:
    """The matcher over every open invoice, client name, alias and learned payer (five queries)."""
    rows = Invoice.objects.open().exclude(number__isnull=True)
    if lock:
        rows = rows.select_for_update().order_by("pk")
    invoices = [
        OpenInvoice(
            id=pk,
            number=number,
            client_id=client_id,
            balance_cents=to_cents(ttc - paid),
            issue_date=issue,
            due_date=due,
            total_cents=to_cents(ttc),
        )
        for pk, number, client_id, ttc, paid, issue, due in rows.values_list(
            "pk", "number", "client_id", "total_ttc", "amount_paid", "issue_date", "due_date"
        ).iterator(chunk_size=5000)
    ]
    closed = dict(
        Invoice.objects.filter(kind=Kind.INVOICE, number__isnull=False)
        .exclude(status__in=OPEN_STATUSES)
        .values_list("number", "client_id")
        .iterator(chunk_size=5000)
    )
    other_names: dict[int, list[str]] = defaultdict(list)
    for client_id, name in ClientAlias.objects.values_list("client_id", "name"):
        other_names[client_id].append(name)
    ibans = []
    for client_id, iban, name in PayerIdentity.objects.values_list("client_id", "iban", "name"):
        if name:
            other_names[client_id].append(name)
        if iban:
            ibans.append((iban, client_id))
    clients = [
        ClientSnapshot(id=pk, name=name, other_names=other_names.get(pk, []))
        for pk, name in Client.objects.values_list("pk", "name")
    ]
    return Matcher(
        invoices=invoices,
        clients=clients,
        payer_ibans=ibans,
        closed_numbers=closed,
        config=config or matching_config(),
    )


def _snapshot(row) -> CreditSnapshot:
    pk, transaction_id, qonto_id, amount, label, counterparty, reference, note, iban, settled, emitted = row
    return CreditSnapshot(
        id=pk,
        transaction_id=transaction_id or qonto_id,
        amount_cents=to_cents(amount),
        label=label,
        counterparty=counterparty or label,
        reference=reference,
        note=note,
        iban=iban,
        settled_on=_local_date(settled or emitted),
    )


def _result(decision: Decision) -> MatchResult:
    return MatchResult(
        transaction_pk=decision.credit.id,
        transaction_id=decision.credit.transaction_id,
        status=decision.status,
        allocations=[a.as_json() for a in decision.allocations],
        score=int(decision.score),
        reasons=decision.reasons,
        excess=str(from_cents(decision.excess_cents)),
    )


def payments_match(*, dry_run: bool = False, transactions=None) -> list[MatchResult]:
    """Decide every unprocessed completed credit (or the given ones), oldest first, and write the decisions.

    Matched credits get their allocations, their invoices move to paid or partially paid, an excess goes
    to the client's credit; suggested ones keep their ranked candidates for a person; the rest are not
    recognised. Credits a person decided (confirmed, pays no invoice, an undone decision) are never
    decided again, even when given. With ``dry_run`` nothing is written. Invoices are locked
    (``SELECT … FOR UPDATE``, by pk) for the run, so a confirmation made in the admin meanwhile waits
    instead of paying an invoice twice.
    """
    if dry_run:
        return _match(transactions, lock=False, write=False)
    with db_transaction.atomic():
        return _match(transactions, lock=True, write=True)


def _match(transactions, *, lock: bool, write: bool) -> list[MatchResult]:
    matcher = matcher_build(lock=lock)
    if transactions is None:
        qs = BankTransaction.objects.unprocessed()
    else:
        ids = [getattr(t, "pk", t) for t in transactions]
        qs = BankTransaction.objects.completed().filter(
            pk__in=ids, side=Side.CREDIT, match_status__in=MACHINE_STATUSES
        )
    qs = qs.filter(decided_at__isnull=True)
    if lock:
        qs = qs.select_for_update()
    credits = [_snapshot(row) for row in qs.order_by("settled_at", "pk").values_list(*CREDIT_COLUMNS)]
    results = []
    chunk: list[Decision] = []
    for decision in matcher.iter_run(credits):
        results.append(_result(decision))
        if write:
            chunk.append(decision)
            if len(chunk) >= WRITE_CHUNK:
                _write(chunk)
                chunk = []
    if chunk:
        _write(chunk)
    return results


def _write(decisions: list[Decision]) -> None:
    now = timezone.now()
    allocations: list[PaymentAllocation] = []
    payments: list[Payment] = []
    excesses: list[Excess] = []
    rows = []
    for d in decisions:
        rows.append(
            (
                d.status,
                int(d.score),
                list(d.reasons),
                [c.as_json() for c in d.candidates],
                now,
                now,
                d.credit.id,
            )
        )
        if d.status != MATCHED:
            continue
        credit = d.credit
        excess = from_cents(d.excess_cents)
        for a in d.allocations:
            amount, write_off = from_cents(a.amount_cents), from_cents(a.write_off_cents)
            allocations.append(
                PaymentAllocation(
                    transaction_id=credit.id,
                    invoice_id=a.invoice_id,
                    amount=amount,
                    write_off=write_off,
                    method=PaymentAllocation.Method.AUTO,
                    score=int(d.score),
                    reasons=d.reasons,
                )
            )
            payments.append(
                Payment(
                    invoice_id=a.invoice_id,
                    amount=amount + write_off,
                    paid_on=credit.settled_on or timezone.localdate(),
                    reason=payment_reason(
                        settled_on=credit.settled_on,
                        label=credit.counterparty or credit.label,
                        amount=from_cents(credit.amount_cents),
                        write_off=write_off,
                        excess=excess,
                        how="rapprochement automatique",
                    ),
                )
            )
        if d.excess_cents:
            excesses.append(
                Excess(
                    client_id=d.excess_client_id,
                    amount=excess,
                    transaction_id=credit.id,
                    reason=bank_line(
                        credit.settled_on, credit.counterparty or credit.label, credit.amount_cents
                    ),
                )
            )
    PaymentAllocation.objects.bulk_create(allocations, batch_size=500)
    invoices_record_payments(payments=payments)
    client_credits_receive(excesses=excesses)
    match_fields_write(rows)


def match_fields_write(rows) -> None:
    """Write the six match columns of many credits, ``(status, score, reasons, candidates, processed_at,
    updated_at, pk)`` each, and nothing else (the other 20 columns, Qonto's raw object among them, are
    neither read nor re-encoded). PostgreSQL: one ``UPDATE … FROM (VALUES …)`` per 500 rows; elsewhere one
    parameterised UPDATE sent for all rows (SQLite runs it in process)."""
    if not rows:
        return
    fields = [BankTransaction._meta.get_field(name) for name in MATCH_COLUMNS]
    params = [
        [*(f.get_db_prep_save(value, connection) for f, value in zip(fields, row[:-1], strict=True)), row[-1]]
        for row in rows
    ]
    qn = connection.ops.quote_name
    table, pk = qn(BankTransaction._meta.db_table), qn(BankTransaction._meta.pk.column)
    # Names come from the model's metadata; every value is a parameter.
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            assignments = ", ".join(f"{qn(f.column)} = %s" for f in fields)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", params)  # noqa: S608
            return
        types = [f.db_type(connection) for f in fields]
        names = [f"c{i}" for i in range(len(fields))]
        assignments = ", ".join(
            f"{qn(f.column)} = v.{name}::{kind}" for f, name, kind in zip(fields, names, types, strict=True)
        )
        row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
        for start in range(0, len(params), 500):
            batch = params[start : start + 500]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_sql] * len(batch))}) "  # noqa: S608
                f"AS v({', '.join(names)}, id) WHERE {table}.{pk} = v.id::bigint",
                [value for row in batch for value in row],
            )


def bank_line(settled_on: dt.date | None, label: str, amount_cents: int) -> str:
    """A bank line as a person recognises it: ``virement du 12/04/2025 « PHARMABEST » de 1 000,00 €``."""
    day = f"du {settled_on:%d/%m/%Y} " if settled_on else ""
    return f"virement {day}« {label.strip() or '—'} » de {format_eur(from_cents(amount_cents))}"


def payment_reason(
    *, settled_on, label: str, amount: Decimal, write_off: Decimal, excess: Decimal, how: str
) -> str:
    """What an invoice's history says of a payment: the bank line, who decided, any write-off or excess."""
    reason = f"{bank_line(settled_on, label, to_cents(amount))}, {how}"
    if write_off:
        reason += f", dont {format_eur(write_off)} de frais bancaires passés en perte"
    if excess > ZERO:
        reason += f", {format_eur(excess)} de trop portés au crédit du client"
    return reason
