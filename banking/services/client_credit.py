"""A client's credit (trop-perçu): money received beyond its invoices, used on a later invoice or refunded.

Every change is a :class:`~banking.models.ClientCreditMovement` written with the client's
:class:`~banking.models.ClientCredit` row locked, so the balance is the sum of the movements and never goes
below zero. Using the credit on an invoice books a payment through the invoice lifecycle, like a transfer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction as db_transaction
from django.utils import timezone

from banking.models import ClientCredit, ClientCreditMovement
from invoicing.models import Invoice
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.services.lifecycle import Payment, invoices_record_payments, invoices_reverse_payments
from syaga.core.errors import BusinessError, InputError
from syaga.core.money import ZERO, format_eur, quantize

Kind_ = ClientCreditMovement.Kind


@dataclass(frozen=True)
class Excess:
    """Money of one credit transaction beyond the invoices it pays, for one client."""

    client_id: int
    amount: Decimal
    transaction_id: int | None
    reason: str = ""


def _lock(client_ids) -> dict[int, ClientCredit]:
    """The credit rows of these clients, created when missing, locked in primary-key order."""
    ids = sorted(set(client_ids))
    ClientCredit.objects.bulk_create([ClientCredit(client_id=i) for i in ids], ignore_conflicts=True)
    rows = ClientCredit.objects.select_for_update().filter(client_id__in=ids).order_by("pk")
    return {row.client_id: row for row in rows}


def _save(credits, now) -> None:
    for credit in credits:
        credit.updated_at = now
    ClientCredit.objects.bulk_update(credits, ["balance", "updated_at"])


def client_credits_receive(*, excesses: list[Excess], actor=None) -> list[ClientCreditMovement]:
    """Add the excess of credit transactions to their clients' credit, in the caller's transaction."""
    excesses = [e for e in excesses if e.amount > 0]
    if not excesses:
        return []
    with db_transaction.atomic():
        credits = _lock(e.client_id for e in excesses)
        now = timezone.now()
        added: dict[int, Decimal] = defaultdict(lambda: ZERO)
        movements = []
        for e in excesses:
            amount = quantize(e.amount)
            added[e.client_id] += amount
            movements.append(
                ClientCreditMovement(
                    credit=credits[e.client_id],
                    kind=Kind_.EXCESS,
                    amount=amount,
                    transaction_id=e.transaction_id,
                    reason=e.reason[:300],
                    actor=actor if getattr(actor, "pk", None) else None,
                    at=now,
                )
            )
        for client_id, amount in added.items():
            credits[client_id].balance = quantize(credits[client_id].balance + amount)
        _save(list(credits.values()), now)
        return ClientCreditMovement.objects.bulk_create(movements, batch_size=500)


def client_credit_excess_cancel(*, transaction_id: int, actor, reason: str) -> list[ClientCreditMovement]:
    """Take back the excess a credit transaction put on clients' credit (its allocation is being undone).

    Refused when the credit has since been used or refunded: those movements are undone first.
    """
    with db_transaction.atomic():
        excesses = list(
            ClientCreditMovement.objects.filter(
                transaction_id=transaction_id, kind=Kind_.EXCESS, reversed_by__isnull=True
            ).order_by("pk")
        )
        if not excesses:
            return []
        credits = {c.pk: c for c in _lock_by_pk({m.credit_id for m in excesses})}
        now = timezone.now()
        out = []
        for m in excesses:
            credit = credits[m.credit_id]
            if credit.balance < m.amount:
                raise BusinessError(
                    f"le trop-perçu de {format_eur(m.amount)} porté au crédit de {credit.client} a déjà été "
                    f"utilisé ou remboursé (solde {format_eur(credit.balance)}) : annulez d'abord cette "
                    "imputation ou ce remboursement"
                )
            credit.balance = quantize(credit.balance - m.amount)
            out.append(
                ClientCreditMovement(
                    credit=credit,
                    kind=Kind_.CANCELLED,
                    amount=m.amount,
                    transaction_id=transaction_id,
                    reverses=m,
                    reason=reason[:300],
                    actor=actor if getattr(actor, "pk", None) else None,
                    at=now,
                )
            )
        _save(list(credits.values()), now)
        return ClientCreditMovement.objects.bulk_create(out)


def _lock_by_pk(pks) -> list[ClientCredit]:
    return list(
        ClientCredit.objects.select_for_update()
        .filter(pk__in=sorted(pks))
        .select_related("client")
        .order_by("pk")
    )


def client_credit_apply(
    *, client, invoice: Invoice, amount: Decimal, actor, reason: str = ""
) -> ClientCreditMovement:
    """Use ``amount`` of the client's credit to pay one of its open invoices (a payment in its history)."""
    where = f"crédit de {client}"
    amount = quantize(amount)
    if amount <= 0:
        raise InputError(f"le montant {format_eur(amount)} doit être positif", where=where)
    with db_transaction.atomic():
        # invoices before credits: the lock order of every banking write
        current = Invoice.objects.select_for_update().get(pk=invoice.pk)
        credit = _lock([client.pk])[client.pk]
        if current.client_id != client.pk:
            raise InputError(f"{current} n'est pas une facture de {client}", where=where)
        if current.kind != Kind.INVOICE or current.status not in OPEN_STATUSES:
            raise InputError(f"{current} n'est pas une facture ouverte", where=where)
        if amount > credit.balance:
            raise InputError(
                f"{format_eur(amount)} dépasse le crédit disponible {format_eur(credit.balance)}", where=where
            )
        if amount > current.balance_due:
            raise InputError(
                f"{format_eur(amount)} dépasse le reste dû de {current} ({format_eur(current.balance_due)})",
                where=where,
            )
        why = "crédit du client (trop-perçu) imputé" + (f" : {reason}" if reason else "")
        invoices_record_payments(
            payments=[
                Payment(invoice_id=current.pk, amount=amount, paid_on=timezone.localdate(), reason=why)
            ],
            actor=actor,
        )
        credit.balance = quantize(credit.balance - amount)
        _save([credit], timezone.now())
        return ClientCreditMovement.objects.create(
            credit=credit,
            kind=Kind_.APPLIED,
            amount=amount,
            invoice=current,
            reason=reason[:300],
            actor=actor,
        )


def client_credit_refund(*, client, amount: Decimal, actor, reason: str) -> ClientCreditMovement:
    """Record that ``amount`` of the client's credit was paid back to it (the transfer leaves the bank)."""
    where = f"crédit de {client}"
    amount = quantize(amount)
    reason = (reason or "").strip()
    if amount <= 0:
        raise InputError(f"le montant {format_eur(amount)} doit être positif", where=where)
    if not reason:
        raise InputError("un remboursement indique son motif (virement, date…)", where=where)
    with db_transaction.atomic():
        credit = _lock([client.pk])[client.pk]
        if amount > credit.balance:
            raise InputError(
                f"{format_eur(amount)} dépasse le crédit disponible {format_eur(credit.balance)}", where=where
            )
        credit.balance = quantize(credit.balance - amount)
        _save([credit], timezone.now())
        return ClientCreditMovement.objects.create(
            credit=credit, kind=Kind_.REFUNDED, amount=amount, reason=reason[:300], actor=actor
        )


def client_credit_movement_undo(
    *, movement: ClientCreditMovement, actor, reason: str
) -> ClientCreditMovement:
    """Take back a use of the credit on an invoice (its payment is reversed) or a refund made by mistake."""
    where = f"mouvement {movement.pk}"
    reason = (reason or "").strip()
    if not reason:
        raise InputError("l'annulation indique son motif", where=where)
    with db_transaction.atomic():
        if movement.invoice_id:  # invoices before credits: the lock order of every banking write
            Invoice.objects.select_for_update().filter(pk=movement.invoice_id).first()
        credit = _lock_by_pk([movement.credit_id])[0]
        current = ClientCreditMovement.objects.select_for_update().get(pk=movement.pk)
        if current.kind not in (Kind_.APPLIED, Kind_.REFUNDED):
            raise InputError(
                f"un mouvement « {current.get_kind_display()} » ne s'annule pas ici "
                "(un trop-perçu s'annule avec la décision de sa transaction)",
                where=where,
            )
        if ClientCreditMovement.objects.filter(reverses=current).exists():
            raise InputError("ce mouvement est déjà annulé", where=where)
        if current.kind == Kind_.APPLIED:
            invoices_reverse_payments(
                payments=[
                    Payment(
                        invoice_id=current.invoice_id,
                        amount=current.amount,
                        paid_on=timezone.localdate(current.at),
                    )
                ],
                actor=actor,
                reason=f"imputation du crédit client annulée : {reason}",
            )
        credit.balance = quantize(credit.balance + current.amount)
        _save([credit], timezone.now())
        return ClientCreditMovement.objects.create(
            credit=credit,
            kind=Kind_.RESTORED,
            amount=current.amount,
            invoice_id=current.invoice_id,
            reverses=current,
            reason=reason[:300],
            actor=actor,
        )
