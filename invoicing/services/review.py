"""The review workflow: who may submit, approve, reject or send back, and what the rules decide.

The moves themselves (status, audit row, number) are made by ``lifecycle``; this module decides whether
they may happen: the approve permission, four-eyes approval, the rules that still reject at approval time,
and the rules' verdict on invoices entering review. Batches handle each invoice on its own (a savepoint
each when it is issued), so one failure never stops the others, and report which succeeded and which did
not, and why. Rules, clients, contracts, lines and history are loaded once per batch.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction

from invoicing.models import Invoice, InvoiceEvent, SellerProfile
from invoicing.models.invoice import Kind, Status
from invoicing.models.validation import Action, EventKind
from invoicing.selectors import APPROVE_PERMISSION, approvers
from invoicing.services import lifecycle
from invoicing.services.lifecycle import BatchResult
from invoicing.services.rules import (
    NO_DECISION_MESSAGE,
    Decision,
    invoice_evaluate,
    review_threshold,
    rule_context_build,
)
from syaga.core.errors import BusinessError, InputError
from syaga.core.money import format_eur


class ApprovalPermissionError(BusinessError):
    """The user may not approve, reject or send back invoices."""


def invoice_label(invoice: Invoice) -> str:
    return f"{invoice} ({invoice.client.name})"


def _ids(invoices) -> list[int]:
    return [i if isinstance(i, int) else i.pk for i in invoices]


def _require_permission(user) -> None:
    if user is None or not user.is_active or not user.has_perm(APPROVE_PERMISSION):
        raise ApprovalPermissionError(
            f"{getattr(user, 'username', 'anonyme')} n'a pas la permission d'approuver les factures "
            f"({APPROVE_PERMISSION})"
        )


# --- four-eyes ----------------------------------------------------------------------------------------


def four_eyes_active(seller: SellerProfile | None) -> bool:
    """Four-eyes holds when the seller profile asks for it (the default) and two people can approve.

    With a single approver it cannot hold: the admin and ``health`` say so rather than block every invoice.
    """
    if seller is not None and not seller.four_eyes_approval:
        return False
    return approvers().count() >= 2


def _editors(invoice_ids: list[int]) -> dict[int, set[int]]:
    """invoice id → users who changed its content (one query for the batch)."""
    editors: dict[int, set[int]] = {}
    rows = InvoiceEvent.objects.filter(
        invoice_id__in=invoice_ids, kind=EventKind.EDITED, actor__isnull=False
    ).values_list("invoice_id", "actor_id")
    for invoice_id, actor_id in rows:
        editors.setdefault(invoice_id, set()).add(actor_id)
    return editors


# --- people's decisions ---------------------------------------------------------------------------------


def invoices_approve(*, invoices, user) -> BatchResult:
    """Approve and issue each pending invoice (its number is taken here, irrevocably), then schedule what
    follows an issue (PDF, e-mail) after commit.

    Refused per invoice: not pending review; four-eyes (above the review threshold, the approver created
    or edited it); or a rejecting rule that now applies (e.g. the client lost its billing e-mail).
    """
    _require_permission(user)
    result = BatchResult()
    with transaction.atomic():
        locked = lifecycle.lock(_ids(invoices))
        ctx = rule_context_build(locked)
        threshold = review_threshold(ctx.rules)
        four_eyes = four_eyes_active(ctx.seller)
        editors = _editors([invoice.pk for invoice in locked]) if four_eyes else {}
        events: list[InvoiceEvent] = []
        for invoice in locked:
            try:
                if invoice.status != Status.PENDING_REVIEW:
                    raise BusinessError(f"elle est {invoice.get_status_display()}, pas à valider")
                authors = {invoice.created_by_id, *editors.get(invoice.pk, ())}
                if four_eyes and invoice.total_ht > threshold and user.pk in authors:
                    raise BusinessError(
                        "validation à quatre yeux : vous l'avez saisie ou modifiée et elle dépasse "
                        f"{format_eur(threshold)} HT, une autre personne doit l'approuver"
                    )
                blocking = invoice_evaluate(invoice, ctx, actions=[Action.REJECT])
                if blocking.rule is not None:
                    raise BusinessError(f"règle « {blocking.rule.name} » : {blocking.message}")
                events += lifecycle.approve_and_issue(invoice, actor=user, seller=ctx.seller)
            except (BusinessError, DatabaseError) as exc:
                result.failed.append((invoice, str(exc)))
            else:
                result.succeeded.append(invoice)
        lifecycle.issued_record(invoices=result.succeeded, events=events, actor=user)
    return result


def _single(result: BatchResult) -> Invoice:
    if result.failed:
        raise BusinessError(f"{invoice_label(result.failed[0][0])} : {result.failed[0][1]}")
    return result.succeeded[0]


def invoice_approve(*, invoice: Invoice, user) -> Invoice:
    return _single(invoices_approve(invoices=[invoice], user=user))


def invoices_reject(*, invoices, user, reason: str) -> BatchResult:
    """Reject pending invoices with a reason (asked of the user); the others are reported as failed."""
    _require_permission(user)
    reason = (reason or "").strip()
    if not reason:
        raise InputError("indiquez pourquoi les factures sont rejetées", where="motif du rejet")
    with transaction.atomic():
        return lifecycle.move(
            lifecycle.lock(_ids(invoices)),
            to=Status.REJECTED,
            kind=EventKind.REJECTED,
            actor=user,
            reason=reason,
            values={"review_reason": reason[:300]},
        )


def invoices_send_back(*, invoices, user, reason: str = "") -> BatchResult:
    """Back to draft, for correction: pending, rejected or approved-not-issued invoices only."""
    _require_permission(user)
    with transaction.atomic():
        return lifecycle.move(
            lifecycle.lock(_ids(invoices)),
            to=Status.DRAFT,
            kind=EventKind.SENT_BACK,
            actor=user,
            reason=reason,
            values={"review_reason": "", "validation_rule": None},
        )


# --- the rules' decisions -------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    approved: list[tuple[Invoice, Decision]] = field(default_factory=list)
    rejected: list[tuple[Invoice, Decision]] = field(default_factory=list)
    review: list[tuple[Invoice, Decision]] = field(default_factory=list)
    # Invoices that could not enter review (not a draft, a credit note…), with the reason.
    refused: list[tuple[Invoice, str]] = field(default_factory=list)

    def counts(self) -> dict:
        return {"approved": len(self.approved), "rejected": len(self.rejected), "review": len(self.review)}

    def as_dict(self) -> dict:
        details = []
        outcomes = (("approved", self.approved), ("rejected", self.rejected), ("review", self.review))
        for outcome, rows in outcomes:
            for invoice, decision in rows:
                details.append(
                    {
                        "invoice_id": invoice.pk,
                        "number": invoice.number,
                        "client": invoice.client.name,
                        "total_ht": str(invoice.total_ht),
                        "outcome": outcome,
                        "rule": decision.rule.name if decision.rule else None,
                        "reason": decision.message,
                    }
                )
        return {**self.counts(), "details": details}

    def decision_of(self, invoice: Invoice) -> Decision | None:
        for rows in (self.approved, self.rejected, self.review):
            for row_invoice, decision in rows:
                if row_invoice.pk == invoice.pk:
                    return decision
        return None


def _verdict(decisions: dict[int, Decision]):
    """What a held or rejected invoice records: the deciding rule and its message."""

    def each(invoice: Invoice):
        decision = decisions[invoice.pk]
        message = decision.message[:300]
        return decision.rule, decision.message, {"validation_rule": decision.rule, "review_reason": message}

    return each


def _validate_locked(invoices: list[Invoice], *, actor=None) -> ValidationReport:
    """Run the rules on locked pending invoices and apply each decision, in the caller's transaction."""
    report = ValidationReport()
    ctx = rule_context_build(invoices)
    issue_events: list[InvoiceEvent] = []
    issued: list[Invoice] = []
    decisions: dict[int, Decision] = {}
    rejected: list[Invoice] = []
    held: list[Invoice] = []
    for invoice in invoices:
        if invoice.status != Status.PENDING_REVIEW:
            continue
        decision = invoice_evaluate(invoice, ctx)
        if decision.action == Action.APPROVE:
            try:
                issue_events += lifecycle.approve_and_issue(
                    invoice,
                    actor=actor,
                    kind=EventKind.AUTO_APPROVED,
                    rule=decision.rule,
                    reason=decision.message,
                    seller=ctx.seller,
                )
            except (BusinessError, DatabaseError) as exc:
                decision = Decision(
                    action=Action.REVIEW,
                    rule=decision.rule,
                    message=f"approbation automatique impossible : {exc}",
                )
            else:
                issued.append(invoice)
                report.approved.append((invoice, decision))
                continue
        decisions[invoice.pk] = decision
        if decision.action == Action.REJECT:
            rejected.append(invoice)
            report.rejected.append((invoice, decision))
            continue
        rule_id = decision.rule.pk if decision.rule else None
        if invoice.validation_rule_id != rule_id or invoice.review_reason != decision.message[:300]:
            # Only a change of verdict is worth a row: the daily run re-checks the same queue every day.
            held.append(invoice)
        report.review.append((invoice, decision))
    each = _verdict(decisions)
    lifecycle.move(rejected, to=Status.REJECTED, kind=EventKind.REJECTED, actor=actor, each=each)
    lifecycle.move(held, to=Status.PENDING_REVIEW, kind=EventKind.REVIEW_REQUIRED, actor=actor, each=each)
    lifecycle.issued_record(invoices=issued, events=issue_events, actor=actor)
    return report


def invoices_validate(*, invoices, actor=None) -> ValidationReport:
    with transaction.atomic():
        return _validate_locked(lifecycle.lock(_ids(invoices)), actor=actor)


def invoice_validate(*, invoice: Invoice, actor=None) -> Decision:
    """Run the rules on one pending invoice and apply the decision; returns it."""
    report = invoices_validate(invoices=[invoice], actor=actor)
    decision = report.decision_of(invoice)
    invoice.refresh_from_db()
    if decision is None:
        raise BusinessError(f"{invoice} est {invoice.get_status_display()}, pas à valider")
    return decision


def validate_pending(*, actor=None) -> ValidationReport:
    """The rules over every pending invoice: the daily cycle's and ``manage.py validate_pending``'s entry."""
    with transaction.atomic():
        ids = list(Invoice.objects.pending_review().values_list("pk", flat=True))
        return _validate_locked(lifecycle.lock(ids), actor=actor)


def _not_credit_note(invoice: Invoice) -> None:
    if invoice.kind != Kind.INVOICE:
        raise BusinessError(f"{invoice} est un avoir : un avoir est émis avec sa facture")


def invoices_submit(*, invoices: Iterable, user=None) -> ValidationReport:
    """Drafts (or corrected rejected invoices) enter review, logged, and the rules decide at once; those
    that cannot enter review are in the report's ``refused`` with the reason."""
    with transaction.atomic():
        locked = lifecycle.lock(_ids(invoices))
        moved = lifecycle.move(
            locked, to=Status.PENDING_REVIEW, kind=EventKind.SUBMITTED, actor=user, guard=_not_credit_note
        )
        report = _validate_locked(moved.succeeded, actor=user)
    report.refused = moved.failed
    return report


def invoice_submit(*, invoice: Invoice, user=None) -> Decision:
    """A draft (or a corrected rejected invoice) enters review, logged, then run through the rules."""
    report = invoices_submit(invoices=[invoice], user=user)
    if report.refused:
        raise BusinessError(f"{invoice_label(report.refused[0][0])} : {report.refused[0][1]}")
    invoice.refresh_from_db()
    return report.decision_of(invoice) or Decision(action=None, rule=None, message=NO_DECISION_MESSAGE)
