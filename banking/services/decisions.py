"""What a person decides about a credit: allocate it by hand, confirm a suggestion, say it pays no invoice,
undo any of these (or a machine's match). Each decision writes its audit row
(:class:`~banking.models.MatchEvent`) in its own transaction, and marks the credit as decided by a person so
that no machine run decides it again.

Nothing is dropped: the part of a credit its invoices do not take becomes a credit of the client
(:mod:`banking.services.client_credit`). Payments are booked and reversed through the invoice lifecycle,
with the bank line in the reason, so an invoice's history shows how it was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction as db_transaction
from django.utils import timezone

from banking.models import (
    ALLOCATED_STATUSES,
    BankTransaction,
    MatchEvent,
    MatchStatus,
    PayerIdentity,
    PaymentAllocation,
    Side,
    TransactionStatus,
)
from banking.services.allocation import bank_line, payment_reason
from banking.services.client_credit import Excess, client_credit_excess_cancel, client_credits_receive
from banking.services.matching import to_cents
from banking.services.reading import clean_payer_name
from banking.services.reasons import reason as make_reason
from invoicing.models import Client, Invoice
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.services.lifecycle import Payment, invoices_record_payments, invoices_reverse_payments
from syaga.core.errors import InputError
from syaga.core.money import ZERO, format_eur, quantize


@dataclass(frozen=True)
class AllocationSpec:
    """Part of a credit for one invoice: the amount paid, and a shortfall written off (bank fees)."""

    invoice_id: int
    amount: Decimal
    write_off: Decimal = Decimal("0.00")


def _who(user) -> str:
    return user.get_username() if getattr(user, "pk", None) else "une personne"


def _actor(user):
    return user if getattr(user, "pk", None) else None


def _where(tx: BankTransaction) -> str:
    return f"transaction {tx.transaction_id or tx.qonto_id or tx.pk}"


def _paid_on(tx: BankTransaction):
    instant = tx.settled_at or tx.emitted_at
    return timezone.localdate(instant) if instant else timezone.localdate()


def _line(tx: BankTransaction) -> str:
    instant = tx.settled_at or tx.emitted_at
    day = timezone.localdate(instant) if instant else None
    return bank_line(day, tx.clean_counterparty_name or tx.label, to_cents(tx.amount))


def transaction_allocate(
    *,
    transaction: BankTransaction,
    allocations: list[AllocationSpec],
    user,
    excess_client: Client | None = None,
    kind: str = MatchEvent.Kind.ALLOCATED,
    score: int | None = None,
    reasons: list | None = None,
    note: str = "",
) -> MatchEvent:
    """A person books a credit on open invoices (any number, partially); what is left goes to a client's
    credit: ``excess_client``, or the client of the invoices when they are all one client's.

    Refuses (``InputError``, nothing written) a debit, a credit the bank has not completed, a credit
    already booked (undo it first), an invoice that is not open or given twice, an amount not positive,
    more than an invoice's balance, more than the credit, or a remainder with no client to credit.
    """
    where = _where(transaction)
    with db_transaction.atomic():
        # invoices before the transaction and the credits: the lock order of every banking write
        invoice_ids = sorted({a.invoice_id for a in allocations})
        invoices = {
            i.pk: i for i in Invoice.objects.select_for_update().filter(pk__in=invoice_ids).order_by("pk")
        }
        tx = BankTransaction.objects.select_for_update().get(pk=transaction.pk)
        if tx.side != Side.CREDIT:
            raise InputError("seul un crédit paie des factures", where=where)
        if tx.status != TransactionStatus.COMPLETED:
            raise InputError(
                f"la banque n'a pas exécuté ce virement (état : {tx.get_status_display()})", where=where
            )
        if tx.match_status in ALLOCATED_STATUSES or tx.allocations.exists():
            raise InputError("ce crédit est déjà affecté : annulez d'abord la décision", where=where)
        total = ZERO
        specs = []
        for spec in allocations:
            inv = invoices.get(spec.invoice_id)
            label = inv.number if inv is not None else f"facture #{spec.invoice_id}"
            if inv is None or inv.kind != Kind.INVOICE or inv.status not in OPEN_STATUSES:
                raise InputError(f"{label} n'est pas une facture ouverte", where=where)
            if any(s.invoice_id == spec.invoice_id for s in specs):
                raise InputError(f"{label} est donnée deux fois", where=where)
            amount, write_off = quantize(spec.amount), quantize(spec.write_off)
            if amount <= 0 or write_off < 0:
                raise InputError(
                    f"le montant {format_eur(amount)} pour {label} doit être positif", where=where
                )
            if amount + write_off > inv.balance_due:
                raise InputError(
                    f"{format_eur(amount + write_off)} dépasse le reste dû de {label} "
                    f"({format_eur(inv.balance_due)})",
                    where=where,
                )
            specs.append(AllocationSpec(spec.invoice_id, amount, write_off))
            total += amount
        if total > tx.amount:
            raise InputError(
                f"les affectations ({format_eur(total)}) dépassent le crédit ({format_eur(tx.amount)})",
                where=where,
            )
        remainder = quantize(tx.amount - total)
        clients = {invoices[s.invoice_id].client_id for s in specs}
        excess_client_id = excess_client.pk if excess_client is not None else None
        if remainder > 0 and excess_client_id is None:
            if len(clients) != 1:
                raise InputError(
                    f"il reste {format_eur(remainder)} : indiquez le client à qui les porter en crédit",
                    where=where,
                )
            excess_client_id = next(iter(clients))
        if not specs and remainder <= 0:
            raise InputError("aucune facture à payer", where=where)

        who = _who(user)
        how = "suggestion confirmée par " + who if kind == MatchEvent.Kind.CONFIRMED else "affecté par " + who
        person = make_reason(
            "person_confirmed" if kind == MatchEvent.Kind.CONFIRMED else "person_allocated", user=who
        )
        decided_reasons = [*(reasons or []), person]
        if remainder > 0:
            client_name = Client.objects.filter(pk=excess_client_id).values_list("name", flat=True).first()
            if client_name is None:
                raise InputError(f"client #{excess_client_id} introuvable", where=where)
            decided_reasons.append(make_reason("client_credit", excess=remainder, client=client_name))
        PaymentAllocation.objects.bulk_create(
            [
                PaymentAllocation(
                    transaction=tx,
                    invoice_id=s.invoice_id,
                    amount=s.amount,
                    write_off=s.write_off,
                    method=PaymentAllocation.Method.MANUAL,
                    score=score,
                    reasons=decided_reasons,
                    created_by=_actor(user),
                )
                for s in specs
            ]
        )
        paid_on = _paid_on(tx)
        invoices_record_payments(
            payments=[
                Payment(
                    invoice_id=s.invoice_id,
                    amount=s.amount + s.write_off,
                    paid_on=paid_on,
                    reason=payment_reason(
                        settled_on=paid_on,
                        label=tx.clean_counterparty_name or tx.label,
                        amount=tx.amount,
                        write_off=s.write_off,
                        excess=remainder,
                        how=how,
                    ),
                )
                for s in specs
            ],
            actor=_actor(user),
        )
        if remainder > 0:
            client_credits_receive(
                excesses=[Excess(excess_client_id, remainder, tx.pk, _line(tx))], actor=_actor(user)
            )
        from_status = tx.match_status
        now = timezone.now()
        tx.match_status = MatchStatus.CONFIRMED
        if score is not None:
            tx.match_score = score
        tx.match_reasons = decided_reasons
        tx.processed_at = tx.processed_at or now
        tx.decided_by, tx.decided_at = _actor(user), now
        tx.save(
            update_fields=[
                "match_status",
                "match_score",
                "match_reasons",
                "processed_at",
                "decided_by",
                "decided_at",
                "updated_at",
            ]
        )
        paid_clients = clients or {excess_client_id}
        if len(paid_clients) == 1:
            payer_learn(transaction=tx, client_id=next(iter(paid_clients)))
        event = MatchEvent.objects.create(
            transaction=tx,
            kind=kind,
            from_status=from_status,
            to_status=tx.match_status,
            allocations=[
                {
                    "invoice_id": s.invoice_id,
                    "invoice": invoices[s.invoice_id].number,
                    "amount": str(s.amount),
                    "write_off": str(s.write_off),
                }
                for s in specs
            ],
            excess=remainder,
            excess_client_id=excess_client_id if remainder > 0 else None,
            reason=note[:300],
            actor=_actor(user),
            at=now,
        )
    _refresh(transaction, tx)
    return event


def suggestion_confirm(*, transaction: BankTransaction, user, candidate_index: int) -> MatchEvent:
    """A person confirms one of the matcher's suggestions, excess included (it goes to the client's credit).

    The payer's name and IBAN are remembered for the client paid (:class:`PayerIdentity`), so the next
    transfer from them is recognised without a reference.
    """
    where = _where(transaction)
    candidates = transaction.match_candidates or []
    if not 0 <= candidate_index < len(candidates):
        raise InputError(f"la suggestion {candidate_index + 1} n'existe pas", where=where)
    chosen = candidates[candidate_index]
    client_id = chosen.get("excess_client_id")
    return transaction_allocate(
        transaction=transaction,
        allocations=[
            AllocationSpec(
                invoice_id=int(a["invoice_id"]),
                amount=Decimal(a["amount"]),
                write_off=Decimal(a.get("write_off") or "0.00"),
            )
            for a in chosen.get("allocations", [])
        ],
        user=user,
        excess_client=Client.objects.filter(pk=client_id).first() if client_id else None,
        kind=MatchEvent.Kind.CONFIRMED,
        score=int(chosen.get("score") or 0),
        reasons=list(chosen.get("reasons", [])),
    )


def payer_learn(*, transaction: BankTransaction, client_id: int) -> PayerIdentity | None:
    """Remember the payer name and IBAN of ``transaction`` as paying for ``client_id``."""
    raw_name = transaction.clean_counterparty_name or transaction.label
    normalized = clean_payer_name(raw_name)
    iban = (transaction.counterparty_iban or "").replace(" ", "").upper()
    if not normalized and not iban:
        return None
    identity, _ = PayerIdentity.objects.get_or_create(
        client_id=client_id,
        iban=iban,
        normalized_name=normalized,
        defaults={"name": raw_name[:300]},
    )
    return identity


def transaction_mark_no_invoice(*, transaction: BankTransaction, user, note: str = "") -> MatchEvent:
    """A person says this credit pays no invoice (refund, interest, capital…): no machine run changes it."""
    where = _where(transaction)
    with db_transaction.atomic():
        tx = BankTransaction.objects.select_for_update().get(pk=transaction.pk)
        if tx.side != Side.CREDIT:
            raise InputError("seul un crédit se rapproche", where=where)
        if tx.match_status in ALLOCATED_STATUSES or tx.allocations.exists():
            raise InputError(
                "ce crédit est affecté à des factures : annulez d'abord la décision", where=where
            )
        if tx.match_status == MatchStatus.NO_INVOICE:
            raise InputError("ce crédit est déjà marqué « ne paie aucune facture »", where=where)
        from_status, now = tx.match_status, timezone.now()
        tx.match_status = MatchStatus.NO_INVOICE
        tx.match_reasons = [*list(tx.match_reasons or []), make_reason("person_no_invoice", user=_who(user))]
        tx.processed_at = tx.processed_at or now
        tx.decided_by, tx.decided_at = _actor(user), now
        tx.save(
            update_fields=[
                "match_status",
                "match_reasons",
                "processed_at",
                "decided_by",
                "decided_at",
                "updated_at",
            ]
        )
        event = MatchEvent.objects.create(
            transaction=tx,
            kind=MatchEvent.Kind.NO_INVOICE,
            from_status=from_status,
            to_status=tx.match_status,
            reason=note[:300],
            actor=_actor(user),
            at=now,
        )
    _refresh(transaction, tx)
    return event


def transaction_decision_undo(*, transaction: BankTransaction, user, reason: str) -> MatchEvent:
    """Undo what was decided for a credit (a person's or the machine's): the payments are reversed, the
    excess taken back from the client's credit, and the credit waits for a person again (the machine
    leaves it: it was wrong, or a person is handling it)."""
    where = _where(transaction)
    reason = (reason or "").strip()
    if not reason:
        raise InputError("l'annulation d'une décision indique son motif", where=where)
    with db_transaction.atomic():
        invoice_ids = sorted(
            PaymentAllocation.objects.filter(transaction_id=transaction.pk).values_list(
                "invoice_id", flat=True
            )
        )
        list(Invoice.objects.select_for_update().filter(pk__in=invoice_ids).order_by("pk").values_list("pk"))
        tx = BankTransaction.objects.select_for_update().get(pk=transaction.pk)
        allocations = list(tx.allocations.select_related("invoice").order_by("pk"))
        if tx.match_status not in (*ALLOCATED_STATUSES, MatchStatus.NO_INVOICE) and not allocations:
            raise InputError(
                f"aucune décision à annuler (rapprochement : {tx.get_match_status_display()})", where=where
            )
        snapshot = [
            {
                "invoice_id": a.invoice_id,
                "invoice": a.invoice.number,
                "amount": str(a.amount),
                "write_off": str(a.write_off),
            }
            for a in allocations
        ]
        if allocations:
            invoices_reverse_payments(
                payments=[
                    Payment(invoice_id=a.invoice_id, amount=a.amount + a.write_off, paid_on=_paid_on(tx))
                    for a in allocations
                ],
                actor=_actor(user),
                reason=f"{_line(tx)} : affectation annulée par {_who(user)}, {reason}",
            )
        cancelled = client_credit_excess_cancel(transaction_id=tx.pk, actor=_actor(user), reason=reason)
        PaymentAllocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()
        from_status, now = tx.match_status, timezone.now()
        tx.match_status = MatchStatus.SUGGESTED if tx.match_candidates else MatchStatus.UNRECOGNISED
        tx.match_reasons = [
            *list(tx.match_reasons or []),
            make_reason("person_undone", user=_who(user), reason=reason),
        ]
        tx.decided_by, tx.decided_at = _actor(user), now
        tx.save(update_fields=["match_status", "match_reasons", "decided_by", "decided_at", "updated_at"])
        event = MatchEvent.objects.create(
            transaction=tx,
            kind=MatchEvent.Kind.UNDONE,
            from_status=from_status,
            to_status=tx.match_status,
            allocations=snapshot,
            excess=sum((m.amount for m in cancelled), ZERO),
            excess_client_id=cancelled[0].credit.client_id if cancelled else None,
            reason=reason[:300],
            actor=_actor(user),
            at=now,
        )
    _refresh(transaction, tx)
    return event


def _refresh(instance: BankTransaction, stored: BankTransaction) -> None:
    for name in (
        "match_status",
        "match_score",
        "match_reasons",
        "processed_at",
        "decided_by_id",
        "decided_at",
    ):
        setattr(instance, name, getattr(stored, name))
