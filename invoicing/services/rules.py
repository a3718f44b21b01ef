"""The validation rules: an ordered list of rows, each a check with a threshold and a decision.

The engine knows a fixed set of checks; each row says which check, with which threshold and comparison,
decides what, in which order, and the first that decides wins. Evaluating never writes nor queries (the
context is loaded once per batch); the review workflow applies the decision. Editing a rule writes its
change log (who, when, before, after) in the same transaction.
"""

import datetime as dt
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from invoicing.models import Invoice, InvoiceLine, RuleChangeLog, SellerProfile, ValidationRule
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Origin, Unit
from invoicing.models.validation import Action, Check, Comparison
from invoicing.services.legal import legal_due_date_limit, legal_mentions_missing
from syaga.core.dates import month_index, today
from syaga.core.errors import InputError
from syaga.core.money import format_eur, format_quantity, format_rate

# Above this total HT an invoice waits for a person (and, under four-eyes, for a second one), when no
# active "total HT > threshold → review" rule says otherwise.
DEFAULT_REVIEW_THRESHOLD = Decimal("2000.00")
ONE_OFF_ORIGINS = (Origin.TIMESHEET, Origin.MANUAL)


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


def _check_legal_mentions_missing(rule, invoice, ctx):
    missing = legal_mentions_missing(invoice, ctx.seller)
    return f"mentions obligatoires manquantes : {', '.join(missing)}" if missing else None


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
            f"{format_quantity(hours)} h facturées, plus de {format_rate(margin)} au-dessus du volume "
            f"mensuel habituel ({format_quantity(Decimal(usual))} h)"
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


def review_threshold(rules: list[ValidationRule]) -> Decimal:
    for rule in rules:
        if (
            rule.check_kind == Check.TOTAL_HT
            and rule.action == Action.REVIEW
            and rule.threshold is not None
            and rule.comparison in (Comparison.GT, Comparison.GTE)
        ):
            return rule.threshold
    return DEFAULT_REVIEW_THRESHOLD


# --- editing rules ----------------------------------------------------------------------------------


THRESHOLD_REQUIRED = {Check.TOTAL_HT}


def rule_config_errors(state: dict) -> dict[str, str]:
    """Field → reason for a rule the engine could not run (admin form and services share it)."""
    errors = {}
    if state.get("check_kind") not in Check.values:
        errors["check_kind"] = f"contrôle inconnu « {state.get('check_kind')} »"
    if state.get("action") not in Action.values:
        errors["action"] = f"décision inconnue « {state.get('action')} »"
    if state.get("check_kind") in THRESHOLD_REQUIRED:
        if state.get("threshold") is None:
            errors["threshold"] = "ce contrôle compare le total HT à un seuil : indiquez-le"
        if state.get("comparison") not in Comparison.values:
            errors["comparison"] = "ce contrôle a besoin d'une comparaison (<, ≤, >, ≥)"
    threshold = state.get("threshold")
    if threshold is not None and Decimal(threshold) < 0:
        errors["threshold"] = "un seuil ne peut pas être négatif"
    return errors


def _rule_check_config(rule: ValidationRule) -> None:
    errors = rule_config_errors({f: getattr(rule, f) for f in ValidationRule.AUDITED_FIELDS})
    if errors:
        name, reason = next(iter(errors.items()))
        label = ValidationRule._meta.get_field(name).verbose_name
        raise InputError(reason, where=f"règle « {rule.name} », champ « {label} »")


def rule_update(*, rule: ValidationRule, user, **changes) -> ValidationRule:
    """Change a rule and log who, when, before and after, in one transaction. No change, no log."""
    unknown = set(changes) - set(ValidationRule.AUDITED_FIELDS)
    if unknown:
        raise InputError(
            f"champ(s) inconnu(s) : {', '.join(sorted(unknown))}", where=f"règle « {rule.name} »"
        )
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
