"""The validation workflow: rules run over invoices entering review, and the people who decide the rest.

Every transition writes an :class:`InvoiceEvent` in the same transaction. Batch services handle each
invoice in its own savepoint, so one failure never stops the others, and they return which invoice
succeeded and which did not, and why. Rules, clients, contracts, lines and history are loaded once per
batch: the only per-invoice queries are the writes that cannot be shared (the invoice number).
"""

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import DatabaseError, transaction
from django.utils import timezone

from invoicing.models import Invoice, InvoiceEvent, InvoiceLine, RuleChangeLog, SellerProfile, ValidationRule
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Origin, Status, Unit
from invoicing.models.validation import Action, Check, Comparison, EventKind
from invoicing.services.delivery import invoices_delivery_queue
from syaga.core.dates import end_of_month, month_index, today
from syaga.core.errors import BusinessError, InputError
from syaga.core.money import format_eur

APPROVE_PERMISSION = "invoicing.approve_invoice"
# Above this total HT a manual invoice needs a second person under four-eyes approval, when no active
# "total HT > threshold → review" rule says otherwise.
DEFAULT_REVIEW_THRESHOLD = Decimal("2000.00")
LEGAL_DAYS_FROM_ISSUE = 60
LEGAL_DAYS_END_OF_MONTH = 45
ONE_OFF_ORIGINS = (Origin.TIMESHEET, Origin.MANUAL)


class ApprovalPermissionError(BusinessError):
    """The user may not approve, reject or send back invoices."""


# --- audit rows -------------------------------------------------------------------------------------


def totals_snapshot(invoice: Invoice) -> dict:
    return {
        "total_ht": str(invoice.total_ht),
        "total_vat": str(invoice.total_vat),
        "total_ttc": str(invoice.total_ttc),
    }


def event_build(
    invoice: Invoice,
    kind: str,
    *,
    from_status: str,
    to_status: str,
    actor=None,
    rule=None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> InvoiceEvent:
    """An unsaved audit row; callers save it (or bulk-create many) in the transaction of the change."""
    return InvoiceEvent(
        invoice=invoice,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        rule=rule,
        reason=reason,
        totals=totals_snapshot(invoice),
    )


# --- the rule engine ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the rules say about one invoice: ``action`` is None when no rule decided (a person reviews)."""

    action: str | None
    rule: ValidationRule | None
    message: str


NO_DECISION_MESSAGE = "Aucune règle ne l'approuve automatiquement : relecture manuelle."


@dataclass
class RuleContext:
    """Everything the checks need for a batch of invoices, loaded in a constant number of queries."""

    rules: list[ValidationRule]
    seller: SellerProfile | None
    clients_with_history: set[int]
    # (client_id, month_index) -> hours billed on issued invoices that month
    monthly_hours: dict[tuple[int, int], Decimal]


def rules_active() -> list[ValidationRule]:
    return list(ValidationRule.objects.filter(active=True).order_by("order", "pk"))


def rule_context_build(invoices: list[Invoice], *, rules: list[ValidationRule] | None = None) -> RuleContext:
    """Load rules, seller, client history and billed hours once for these invoices (lines prefetched)."""
    rules = rules_active() if rules is None else rules
    client_ids = {invoice.client_id for invoice in invoices}
    checks = {rule.check_kind for rule in rules}
    clients_with_history: set[int] = set()
    if Check.FIRST_INVOICE_FOR_CLIENT in checks and client_ids:
        clients_with_history = set(
            Invoice.objects.filter(client_id__in=client_ids, kind=Kind.INVOICE)
            .filter(status__in=FROZEN_STATUSES)
            .values_list("client_id", flat=True)
            .distinct()
        )
    monthly_hours: dict[tuple[int, int], Decimal] = {}
    hour_clients = {invoice.client_id for invoice in invoices if invoice.origin in ONE_OFF_ORIGINS}
    dates = [invoice.issue_date or today() for invoice in invoices if invoice.client_id in hour_clients]
    if Check.HOURS_ABOVE_USUAL in checks and hour_clients:
        start = min(dates).replace(day=1) - dt.timedelta(days=366)
        rows = InvoiceLine.objects.filter(
            unit=Unit.HOUR,
            invoice__client_id__in=hour_clients,
            invoice__kind=Kind.INVOICE,
            invoice__status__in=FROZEN_STATUSES,
            invoice__issue_date__gte=start,
            invoice__issue_date__lte=max(dates),
        ).values_list("invoice__client_id", "invoice__issue_date", "quantity")
        for client_id, issue_date, quantity in rows:
            key = (client_id, month_index(issue_date))
            monthly_hours[key] = monthly_hours.get(key, Decimal("0")) + quantity
    return RuleContext(
        rules=rules,
        seller=SellerProfile.current(),
        clients_with_history=clients_with_history,
        monthly_hours=monthly_hours,
    )


def _compare(value: Decimal, comparison: str, threshold: Decimal) -> bool:
    return {
        Comparison.LT: value < threshold,
        Comparison.LTE: value <= threshold,
        Comparison.GT: value > threshold,
        Comparison.GTE: value >= threshold,
    }[comparison]


def _check_total_ht(rule, invoice, ctx):
    if rule.threshold is None or not rule.comparison:
        return None
    if _compare(invoice.total_ht, rule.comparison, rule.threshold):
        return (
            f"total HT {format_eur(invoice.total_ht)} {rule.get_comparison_display()} "
            f"{format_eur(rule.threshold)}"
        )
    return None


def _check_client_missing_email(rule, invoice, ctx):
    if not invoice.client.email_list:
        return f"le client {invoice.client.name} n'a pas d'e-mail de facturation"
    return None


def _check_client_missing_siren(rule, invoice, ctx):
    if not invoice.client.siren.strip():
        return f"le client {invoice.client.name} n'a pas de SIREN"
    return None


def legal_mentions_missing(invoice: Invoice, seller: SellerProfile | None) -> list[str]:
    """The mandatory mentions (code de commerce L441-9, CGI 242 nonies A) this invoice would print without."""
    missing = []
    if seller is None:
        missing.append("profil vendeur (identité, SIREN, adresse…)")
    else:
        for label, value in (
            ("raison sociale du vendeur", seller.legal_name),
            ("SIREN du vendeur", seller.siren),
            ("n° de TVA du vendeur", seller.vat_number),
            ("adresse du vendeur", seller.address_line1),
            ("code postal du vendeur", seller.postal_code),
            ("ville du vendeur", seller.city),
            ("forme juridique du vendeur", seller.legal_form),
            ("ville du RCS du vendeur", seller.rcs_city),
        ):
            if not (value or "").strip():
                missing.append(label)
        if not seller.share_capital:
            missing.append("capital social du vendeur")
        if seller.late_penalty_rate is None:
            missing.append("taux des pénalités de retard")
    client = invoice.client
    if not client.name.strip():
        missing.append("nom de l'acheteur")
    if not (client.address_line1.strip() and client.city.strip()):
        missing.append("adresse de l'acheteur")
    if invoice.issue_date is None:
        missing.append("date d'émission")
    if invoice.due_date is None:
        missing.append("date d'échéance")
    lines = list(invoice.lines.all())
    if not lines:
        missing.append("au moins une ligne")
    for line in lines:
        gaps = [
            label
            for label, ok in (
                ("désignation", bool(line.description.strip())),
                ("quantité", line.quantity is not None),
                ("prix unitaire", line.unit_price is not None),
                ("taux de TVA", line.vat_rate is not None),
            )
            if not ok
        ]
        if gaps:
            missing.append(f"ligne {line.position} : {', '.join(gaps)}")
    return missing


def _check_legal_mentions_missing(rule, invoice, ctx):
    missing = legal_mentions_missing(invoice, ctx.seller)
    return f"mentions obligatoires manquantes : {', '.join(missing)}" if missing else None


def legal_due_date_limit(issue_date: dt.date) -> dt.date:
    """The latest lawful due date (art. L441-10): 60 days after issue or 45 days end of month.

    The law allows either when the contract says so; we accept whichever falls later.
    """
    return max(
        issue_date + dt.timedelta(days=LEGAL_DAYS_FROM_ISSUE),
        end_of_month(issue_date) + dt.timedelta(days=LEGAL_DAYS_END_OF_MONTH),
    )


def _check_due_date_beyond_legal_limit(rule, invoice, ctx):
    if invoice.issue_date is None or invoice.due_date is None:
        return None
    limit = legal_due_date_limit(invoice.issue_date)
    if invoice.due_date > limit:
        return (
            f"échéance du {invoice.due_date:%d/%m/%Y} au-delà du délai légal (au plus tard le "
            f"{limit:%d/%m/%Y} : 60 jours ou 45 jours fin de mois)"
        )
    return None


def _check_first_invoice_for_client(rule, invoice, ctx):
    if invoice.client_id not in ctx.clients_with_history:
        return f"première facture pour {invoice.client.name}"
    return None


def _check_amount_differs_from_contract(rule, invoice, ctx):
    if invoice.contract_id is None:
        return None
    tolerance = rule.threshold or Decimal("0")
    expected = invoice.contract.amount_ht
    if abs(invoice.total_ht - expected) > tolerance:
        return f"total HT {format_eur(invoice.total_ht)} au lieu de {format_eur(expected)} prévus au contrat"
    return None


def invoice_hours(invoice: Invoice) -> Decimal:
    return sum((line.quantity for line in invoice.lines.all() if line.unit == Unit.HOUR), Decimal("0"))


def _check_hours_above_usual(rule, invoice, ctx):
    """One-off invoices only; compared with the median of the months that had hours in the last 12."""
    if invoice.origin not in ONE_OFF_ORIGINS:
        return None
    hours = invoice_hours(invoice)
    if not hours:
        return None
    current = month_index(invoice.issue_date or today())
    history = [
        ctx.monthly_hours[(invoice.client_id, m)]
        for m in range(current - 12, current)
        if ctx.monthly_hours.get((invoice.client_id, m))
    ]
    if not history:
        return None
    usual = statistics.median(history)
    margin = rule.threshold if rule.threshold is not None else Decimal("50")
    limit = usual * (1 + margin / Decimal(100))
    if hours > limit:
        return (
            f"{hours.normalize():f} h facturées, au-delà de {margin.normalize():f} % du volume mensuel "
            f"habituel ({Decimal(usual).normalize():f} h)"
        )
    return None


def _check_recurring_matches_contract(rule, invoice, ctx):
    if invoice.origin != Origin.RECURRING or invoice.contract_id is None:
        return None
    contract = invoice.contract
    if invoice.total_ht != contract.amount_ht:
        return None
    if not (invoice.client.auto_approve or contract.auto_approve):
        return None
    return f"récurrente conforme au contrat ({format_eur(contract.amount_ht)} HT), approbation automatique"


CHECKS = {
    Check.TOTAL_HT: _check_total_ht,
    Check.CLIENT_MISSING_EMAIL: _check_client_missing_email,
    Check.CLIENT_MISSING_SIREN: _check_client_missing_siren,
    Check.LEGAL_MENTIONS_MISSING: _check_legal_mentions_missing,
    Check.DUE_DATE_BEYOND_LEGAL_LIMIT: _check_due_date_beyond_legal_limit,
    Check.FIRST_INVOICE_FOR_CLIENT: _check_first_invoice_for_client,
    Check.AMOUNT_DIFFERS_FROM_CONTRACT: _check_amount_differs_from_contract,
    Check.HOURS_ABOVE_USUAL: _check_hours_above_usual,
    Check.RECURRING_MATCHES_CONTRACT: _check_recurring_matches_contract,
}


def invoice_evaluate(invoice: Invoice, ctx: RuleContext, *, actions: Iterable[str] | None = None) -> Decision:
    """The first rule (by order) that decides, without writing nor querying (context and lines loaded)."""
    wanted = set(actions) if actions is not None else None
    for rule in ctx.rules:
        if wanted is not None and rule.action not in wanted:
            continue
        message = CHECKS[rule.check_kind](rule, invoice, ctx)
        if message:
            return Decision(action=rule.action, rule=rule, message=message)
    return Decision(action=None, rule=None, message=NO_DECISION_MESSAGE)


def _review_threshold(rules: list[ValidationRule]) -> Decimal:
    for rule in rules:
        if (
            rule.check_kind == Check.TOTAL_HT
            and rule.action == Action.REVIEW
            and rule.threshold is not None
            and rule.comparison in (Comparison.GT, Comparison.GTE)
        ):
            return rule.threshold
    return DEFAULT_REVIEW_THRESHOLD


# --- batches ----------------------------------------------------------------------------------------


@dataclass
class BatchResult:
    succeeded: list[Invoice] = field(default_factory=list)
    failed: list[tuple[Invoice, str]] = field(default_factory=list)


def invoice_label(invoice: Invoice) -> str:
    return f"{invoice} ({invoice.client.name})"


def _lock_invoices(invoice_ids: Iterable[int]) -> list[Invoice]:
    """Lock and load the invoices in pk order (one fixed lock order), with what the rules read."""
    return list(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("client", "contract", "created_by")
        .prefetch_related("lines")
        .filter(pk__in=list(invoice_ids))
        .order_by("pk")
    )


def _ids(invoices) -> list[int]:
    return [i if isinstance(i, int) else i.pk for i in invoices]


def _require_permission(user) -> None:
    if user is None or not user.is_active or not user.has_perm(APPROVE_PERMISSION):
        raise ApprovalPermissionError(
            f"{getattr(user, 'username', 'anonyme')} n'a pas la permission d'approuver les factures "
            f"({APPROVE_PERMISSION})"
        )


def _issue_approved(invoice: Invoice, *, actor, rule, reason: str, kind: str, seller, events: list) -> None:
    """pending → approved → issued in the caller's savepoint; events are appended only on success."""
    from invoicing.services.invoices import _issue_locked

    from_status = invoice.status
    approved = event_build(
        invoice,
        kind,
        from_status=from_status,
        to_status=Status.APPROVED,
        actor=actor,
        rule=rule,
        reason=reason,
    )
    invoice.status = Status.APPROVED
    if rule is not None:
        invoice.validation_rule = rule
    pending_events: list[InvoiceEvent] = []
    _issue_locked(invoice, issue_date=today(), seller=seller, actor=actor, events=pending_events)
    approved.totals = totals_snapshot(invoice)
    events.append(approved)
    events.extend(pending_events)


def _forget_failed_issue(invoice: Invoice) -> None:
    """After a rolled-back savepoint, drop what the failed issue set in memory (number, status…)."""
    if invoice.number is not None or invoice.status != Status.PENDING_REVIEW:
        invoice.refresh_from_db(
            fields=[
                "status",
                "number",
                "series",
                "issue_date",
                "due_date",
                "issued_at",
                "seller_snapshot",
                "buyer_snapshot",
                "validation_rule",
            ]
        )


def invoices_approve(*, invoices, user) -> BatchResult:
    """Approve and issue each invoice (number taken in this transaction), then queue its PDF and sending.

    Refused per invoice: not pending review, four-eyes (own manual invoice above the review threshold
    when the seller profile asks for it), or a rejecting rule that now applies (e.g. the client lost its
    billing e-mail).
    """
    _require_permission(user)
    result = BatchResult()
    with transaction.atomic():
        locked = _lock_invoices(_ids(invoices))
        ctx = rule_context_build(locked)
        threshold = _review_threshold(ctx.rules)
        four_eyes = bool(ctx.seller and ctx.seller.four_eyes_approval)
        events: list[InvoiceEvent] = []
        for invoice in locked:
            try:
                if invoice.status not in (Status.PENDING_REVIEW, Status.APPROVED):
                    raise BusinessError(f"elle est {invoice.get_status_display()}, pas à valider")
                if (
                    four_eyes
                    and invoice.origin == Origin.MANUAL
                    and invoice.created_by_id == user.pk
                    and invoice.total_ht > threshold
                ):
                    raise BusinessError(
                        f"validation à quatre yeux : vous l'avez saisie et elle dépasse "
                        f"{format_eur(threshold)} HT, une autre personne doit l'approuver"
                    )
                blocking = invoice_evaluate(invoice, ctx, actions=[Action.REJECT])
                if blocking.rule is not None:
                    raise BusinessError(f"règle « {blocking.rule.name} » : {blocking.message}")
                with transaction.atomic():
                    _issue_approved(
                        invoice,
                        actor=user,
                        rule=None,
                        reason="",
                        kind=EventKind.APPROVED,
                        seller=ctx.seller,
                        events=events,
                    )
            except (BusinessError, DatabaseError) as exc:
                _forget_failed_issue(invoice)
                result.failed.append((invoice, str(exc)))
            else:
                result.succeeded.append(invoice)
        InvoiceEvent.objects.bulk_create(events)
        invoices_delivery_queue(invoices=result.succeeded, actor=user)
    return result


def invoice_approve(*, invoice: Invoice, user) -> Invoice:
    result = invoices_approve(invoices=[invoice], user=user)
    if result.failed:
        raise BusinessError(f"{invoice_label(result.failed[0][0])} : {result.failed[0][1]}")
    return result.succeeded[0]


def _bulk_move(invoices: list[Invoice], *, to_status: str, fields: dict) -> None:
    if invoices:
        Invoice.objects.filter(pk__in=[i.pk for i in invoices]).update(
            status=to_status, updated_at=timezone.now(), **fields
        )


def invoices_reject(*, invoices, user, reason: str) -> BatchResult:
    """Reject the pending invoices with a reason (asked of the user); the others are reported as failed."""
    _require_permission(user)
    reason = (reason or "").strip()
    if not reason:
        raise InputError("a reason is required to reject invoices", where="motif du rejet")
    result = BatchResult()
    with transaction.atomic():
        events = []
        for invoice in _lock_invoices(_ids(invoices)):
            if invoice.status != Status.PENDING_REVIEW:
                result.failed.append((invoice, f"elle est {invoice.get_status_display()}, pas à valider"))
                continue
            events.append(
                event_build(
                    invoice,
                    EventKind.REJECTED,
                    from_status=invoice.status,
                    to_status=Status.REJECTED,
                    actor=user,
                    reason=reason,
                )
            )
            invoice.status, invoice.review_reason = Status.REJECTED, reason[:300]
            result.succeeded.append(invoice)
        _bulk_move(result.succeeded, to_status=Status.REJECTED, fields={"review_reason": reason[:300]})
        InvoiceEvent.objects.bulk_create(events)
    return result


def invoice_reject(*, invoice: Invoice, user, reason: str) -> Invoice:
    result = invoices_reject(invoices=[invoice], user=user, reason=reason)
    if result.failed:
        raise BusinessError(f"{invoice_label(result.failed[0][0])} : {result.failed[0][1]}")
    return result.succeeded[0]


SEND_BACK_FROM = (Status.PENDING_REVIEW, Status.REJECTED, Status.APPROVED)


def invoices_send_back(*, invoices, user, reason: str = "") -> BatchResult:
    """Back to draft, for correction: pending, rejected or approved-not-issued invoices only."""
    _require_permission(user)
    result = BatchResult()
    with transaction.atomic():
        events = []
        for invoice in _lock_invoices(_ids(invoices)):
            if invoice.status not in SEND_BACK_FROM:
                result.failed.append(
                    (
                        invoice,
                        f"elle est {invoice.get_status_display()} : seule une facture "
                        "à valider ou rejetée retourne en brouillon",
                    )
                )
                continue
            events.append(
                event_build(
                    invoice,
                    EventKind.SENT_BACK,
                    from_status=invoice.status,
                    to_status=Status.DRAFT,
                    actor=user,
                    reason=reason,
                )
            )
            invoice.status, invoice.review_reason, invoice.validation_rule = Status.DRAFT, "", None
            result.succeeded.append(invoice)
        _bulk_move(
            result.succeeded, to_status=Status.DRAFT, fields={"review_reason": "", "validation_rule": None}
        )
        InvoiceEvent.objects.bulk_create(events)
    return result


def invoice_send_back(*, invoice: Invoice, user, reason: str = "") -> Invoice:
    result = invoices_send_back(invoices=[invoice], user=user, reason=reason)
    if result.failed:
        raise BusinessError(f"{invoice_label(result.failed[0][0])} : {result.failed[0][1]}")
    return result.succeeded[0]


# --- running the rules ------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    approved: list[tuple[Invoice, Decision]] = field(default_factory=list)
    rejected: list[tuple[Invoice, Decision]] = field(default_factory=list)
    review: list[tuple[Invoice, Decision]] = field(default_factory=list)

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


def _validate_locked(invoices: list[Invoice], *, actor=None) -> ValidationReport:
    """Run the rules on locked pending invoices and apply each decision, in the caller's transaction."""
    report = ValidationReport()
    ctx = rule_context_build(invoices)
    events: list[InvoiceEvent] = []
    rejected: list[Invoice] = []
    held: list[Invoice] = []
    for invoice in invoices:
        if invoice.status != Status.PENDING_REVIEW:
            continue
        decision = invoice_evaluate(invoice, ctx)
        if decision.action == Action.APPROVE:
            try:
                with transaction.atomic():
                    _issue_approved(
                        invoice,
                        actor=actor,
                        rule=decision.rule,
                        reason=decision.message,
                        kind=EventKind.AUTO_APPROVED,
                        seller=ctx.seller,
                        events=events,
                    )
            except (BusinessError, DatabaseError) as exc:
                _forget_failed_issue(invoice)
                decision = Decision(
                    action=Action.REVIEW,
                    rule=decision.rule,
                    message=f"approbation automatique impossible : {exc}",
                )
            else:
                report.approved.append((invoice, decision))
                continue
        message = decision.message[:300]
        if decision.action == Action.REJECT:
            events.append(
                event_build(
                    invoice,
                    EventKind.REJECTED,
                    from_status=invoice.status,
                    to_status=Status.REJECTED,
                    actor=actor,
                    rule=decision.rule,
                    reason=decision.message,
                )
            )
            invoice.status, invoice.validation_rule, invoice.review_reason = (
                Status.REJECTED,
                decision.rule,
                message,
            )
            rejected.append(invoice)
            report.rejected.append((invoice, decision))
            continue
        rule_id = decision.rule.pk if decision.rule else None
        if invoice.validation_rule_id != rule_id or invoice.review_reason != message:
            # Only a change of verdict is worth a row: the daily run re-checks the same queue every day.
            events.append(
                event_build(
                    invoice,
                    EventKind.REVIEW_REQUIRED,
                    from_status=invoice.status,
                    to_status=invoice.status,
                    actor=actor,
                    rule=decision.rule,
                    reason=decision.message,
                )
            )
            invoice.validation_rule, invoice.review_reason = decision.rule, message
            held.append(invoice)
        report.review.append((invoice, decision))
    now = timezone.now()
    for invoice in rejected + held:
        invoice.updated_at = now
    if rejected or held:
        Invoice.objects.bulk_update(
            rejected + held, ["status", "validation_rule", "review_reason", "updated_at"]
        )
    InvoiceEvent.objects.bulk_create(events)
    invoices_delivery_queue(invoices=[invoice for invoice, _ in report.approved], actor=actor)
    return report


def invoices_validate(*, invoices, actor=None) -> ValidationReport:
    with transaction.atomic():
        return _validate_locked(_lock_invoices(_ids(invoices)), actor=actor)


def invoice_validate(*, invoice: Invoice, actor=None) -> Decision:
    """Run the rules on one pending invoice and apply the decision; returns it."""
    report = invoices_validate(invoices=[invoice], actor=actor)
    for rows in (report.approved, report.rejected, report.review):
        if rows:
            invoice.refresh_from_db()
            return rows[0][1]
    raise BusinessError(f"{invoice} is {invoice.get_status_display()}, not pending review")


def validate_pending(*, actor=None) -> ValidationReport:
    """The rules over every pending invoice: the daily cycle's and ``manage.py validate_pending``'s entry."""
    with transaction.atomic():
        ids = list(Invoice.objects.pending_review().values_list("pk", flat=True))
        return _validate_locked(_lock_invoices(ids), actor=actor)


def invoice_submit(*, invoice: Invoice, user=None) -> Decision:
    """A draft (or a corrected rejected invoice) enters review: logged, then run through the rules."""
    with transaction.atomic():
        locked = _lock_invoices([invoice.pk])
        if not locked:
            raise BusinessError(f"{invoice} no longer exists")
        current = locked[0]
        if current.status not in (Status.DRAFT, Status.REJECTED):
            raise BusinessError(f"{current} is {current.get_status_display()}; only a draft can be submitted")
        if current.kind != Kind.INVOICE:
            raise BusinessError(f"{current} is a credit note; credit notes are issued with their invoice")
        InvoiceEvent.objects.bulk_create(
            [
                event_build(
                    current,
                    EventKind.SUBMITTED,
                    from_status=current.status,
                    to_status=Status.PENDING_REVIEW,
                    actor=user,
                )
            ]
        )
        current.status = Status.PENDING_REVIEW
        Invoice.objects.filter(pk=current.pk).update(status=Status.PENDING_REVIEW, updated_at=timezone.now())
        report = _validate_locked([current], actor=user)
    invoice.refresh_from_db()
    for rows in (report.approved, report.rejected, report.review):
        if rows:
            return rows[0][1]
    return Decision(action=None, rule=None, message=NO_DECISION_MESSAGE)


# --- editing rules ----------------------------------------------------------------------------------


THRESHOLD_REQUIRED = {Check.TOTAL_HT}


def rule_config_errors(state: dict) -> dict[str, str]:
    """Field → reason for a rule the engine could not run (admin form and services share it)."""
    errors = {}
    if state.get("check_kind") not in Check.values:
        errors["check_kind"] = f"unknown check {state.get('check_kind')!r}"
    if state.get("action") not in Action.values:
        errors["action"] = f"unknown action {state.get('action')!r}"
    if state.get("check_kind") in THRESHOLD_REQUIRED:
        if state.get("threshold") is None:
            errors["threshold"] = "this check compares the total HT with a threshold: give one"
        if state.get("comparison") not in Comparison.values:
            errors["comparison"] = "this check needs a comparison (<, ≤, >, ≥)"
    threshold = state.get("threshold")
    if threshold is not None and Decimal(threshold) < 0:
        errors["threshold"] = "a threshold cannot be negative"
    return errors


def _rule_check_config(rule: ValidationRule) -> None:
    errors = rule_config_errors({f: getattr(rule, f) for f in ValidationRule.AUDITED_FIELDS})
    if errors:
        where, reason = next(iter(errors.items()))
        raise InputError(reason, where=f"rule {rule.name!r}, field {where}")


def rule_update(*, rule: ValidationRule, user, **changes) -> ValidationRule:
    """Change a rule and log who, when, before and after, in one transaction. No change, no log."""
    unknown = set(changes) - set(ValidationRule.AUDITED_FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(sorted(unknown))}", where="rule_update")
    with transaction.atomic():
        stored = ValidationRule.objects.select_for_update().get(pk=rule.pk)
        before = stored.audit_state()
        for name, value in changes.items():
            setattr(stored, name, value)
        _rule_check_config(stored)
        after = stored.audit_state()
        if after == before:
            return stored
        stored.save()
        RuleChangeLog.objects.create(
            rule=stored, user=user if getattr(user, "pk", None) else None, before=before, after=after
        )
    for name in ValidationRule.AUDITED_FIELDS:
        setattr(rule, name, getattr(stored, name))
    return stored


def rule_create(*, user, **fields) -> ValidationRule:
    with transaction.atomic():
        rule = ValidationRule(**fields)
        _rule_check_config(rule)
        rule.save()
        RuleChangeLog.objects.create(
            rule=rule, user=user if getattr(user, "pk", None) else None, before=None, after=rule.audit_state()
        )
    return rule
