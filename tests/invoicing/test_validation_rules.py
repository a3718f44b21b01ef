"""The rules every invoice entering review goes through: each rule, order, thresholds edited as data."""

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from invoicing.models import Invoice, InvoiceEvent, RuleChangeLog, ValidationRule
from invoicing.models.invoice import Origin, Status, Unit
from invoicing.models.validation import Check, EventKind
from invoicing.services.invoices import LineSpec, invoice_create
from invoicing.services.legal import legal_due_date_limit
from invoicing.services.lifecycle import invoice_approve_as_system
from invoicing.services.review import invoice_submit, invoice_validate, validate_pending
from invoicing.services.rules import rule_update
from syaga.core.dates import today
from syaga.core.errors import InputError
from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def rule(name: str) -> ValidationRule:
    return ValidationRule.objects.get(name=name)


def client_with_history(**kwargs):
    """A client already billed once (an issued invoice last year), so "first invoice" does not decide."""
    client = ClientFactory(**kwargs)
    make_invoice(
        client=client,
        amounts=(Decimal("300.00"),),
        status=Status.ISSUED,
        issue_date=today() - dt.timedelta(days=400),
    )
    return client


def pending(client, amount="500.00", **kwargs) -> Invoice:
    return make_invoice(client=client, amounts=(Decimal(amount),), status=Status.PENDING_REVIEW, **kwargs)


def hours_invoice(client, hours, *, issue_date, status=Status.PENDING_REVIEW, origin=Origin.TIMESHEET):
    invoice = invoice_create(
        client=client,
        origin=origin,
        issue_date=issue_date,
        submit=True,
        lines=[
            LineSpec(
                description="Assistance",
                unit=Unit.HOUR,
                quantity=Decimal(hours),
                unit_price=Decimal("110.00"),
            )
        ],
    )
    if status == Status.ISSUED:
        invoice = invoice_approve_as_system(
            invoice=invoice, reason="historique de test", issue_date=issue_date
        )
    return invoice


def recurring_invoice(contract, amount=None) -> Invoice:
    return make_invoice(
        client=contract.client,
        amounts=(amount or contract.amount_ht,),
        status=Status.PENDING_REVIEW,
        origin=Origin.RECURRING,
        contract=contract,
    )


# --- reject -----------------------------------------------------------------------------------------


def test_default_rules_exist_on_a_fresh_install():
    rules = list(ValidationRule.objects.filter(active=True).values_list("check_kind", "action", "threshold"))
    assert (Check.TOTAL_HT, "reject", Decimal("10.00")) in rules
    assert (Check.TOTAL_HT, "review", Decimal("2000.00")) in rules
    assert len(rules) == 10


def test_a_total_under_10_euros_is_rejected_with_the_rule_recorded(seller):
    # given
    invoice = pending(client_with_history(), amount="9.99")
    # when
    decision = invoice_validate(invoice=invoice)
    # then
    invoice.refresh_from_db()
    assert invoice.status == Status.REJECTED
    assert invoice.validation_rule == rule("Total HT trop faible")
    assert "9,99" in invoice.review_reason
    event = invoice.events.get(kind=EventKind.REJECTED)
    assert (event.from_status, event.to_status, event.rule) == ("pending_review", "rejected", decision.rule)
    assert event.totals == {"total_ht": "9.99", "total_vat": "2.00", "total_ttc": "11.99"}


def test_a_client_without_billing_email_is_rejected(seller):
    invoice = pending(client_with_history(invoice_emails=""))
    invoice_validate(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Status.REJECTED
    assert "e-mail de facturation" in invoice.review_reason


def test_a_client_without_siren_is_rejected(seller):
    invoice = pending(client_with_history(siren=""))
    invoice_validate(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Status.REJECTED
    assert invoice.validation_rule == rule("Client sans SIREN")


def test_missing_legal_mentions_are_listed(seller):
    # given: the seller profile lost its VAT number and RCS city
    seller.vat_number = ""
    seller.rcs_city = ""
    seller.save()
    invoice = pending(client_with_history())
    # when
    decision = invoice_validate(invoice=invoice)
    # then
    assert decision.rule == rule("Mention légale manquante")
    assert "n° de TVA du vendeur" in decision.message
    assert "ville du RCS du vendeur" in decision.message
    assert Invoice.objects.get(pk=invoice.pk).status == Status.REJECTED


def test_no_seller_profile_at_all_is_a_missing_mention(db):
    client = ClientFactory()
    invoice = pending(client)
    decision = invoice_validate(invoice=invoice)
    assert decision.rule == rule("Mention légale manquante")
    assert "profil vendeur" in decision.message


@pytest.mark.parametrize(
    ("due", "rejected"),
    [
        (dt.date(2025, 3, 16), False),  # 60 days after 15/01
        (dt.date(2025, 3, 17), False),  # 45 days after 31/01: the later limit is allowed
        (dt.date(2025, 3, 18), True),
    ],
)
def test_due_date_beyond_the_legal_limit_is_rejected(seller, due, rejected):
    # given
    issue = dt.date(2025, 1, 15)
    assert legal_due_date_limit(issue) == dt.date(2025, 3, 17)
    invoice = pending(client_with_history(), issue_date=issue, due_date=due)
    # when
    decision = invoice_validate(invoice=invoice)
    # then
    assert (decision.rule == rule("Échéance au-delà du délai légal")) is rejected
    assert (Invoice.objects.get(pk=invoice.pk).status == Status.REJECTED) is rejected


# --- manual review ----------------------------------------------------------------------------------


def test_a_total_above_2000_goes_to_manual_review(seller):
    invoice = pending(client_with_history(), amount="2000.01")
    decision = invoice_validate(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == Status.PENDING_REVIEW
    assert invoice.validation_rule == rule("Montant élevé") == decision.rule
    assert invoice.events.filter(kind=EventKind.REVIEW_REQUIRED, rule=decision.rule).count() == 1


def test_the_first_invoice_of_a_client_goes_to_review_and_the_next_does_not(seller):
    # given
    client = ClientFactory()
    first = pending(client)
    # when / then
    assert invoice_validate(invoice=first).rule == rule("Première facture du client")
    # given: the client has now been billed
    make_invoice(client=client, status=Status.ISSUED)
    second = pending(client)
    # when
    decision = invoice_validate(invoice=second)
    # then: no rule decides, a person looks at it
    assert decision.rule is None
    assert Invoice.objects.get(pk=second.pk).status == Status.PENDING_REVIEW


def test_an_amount_different_from_the_contract_goes_to_review(seller):
    contract = ContractFactory(client=client_with_history(auto_approve=True), amount_ht=Decimal("500.00"))
    invoice = recurring_invoice(contract, amount=Decimal("550.00"))
    decision = invoice_validate(invoice=invoice)
    assert decision.rule == rule("Montant différent du contrat")
    assert "500,00" in decision.message


def _history_of_hours(client, per_month):
    day = today().replace(day=1)
    for i, hours in enumerate(per_month, start=1):
        month = (day - dt.timedelta(days=28 * i)).replace(day=10)
        hours_invoice(client, hours, issue_date=month, status=Status.ISSUED)


@pytest.mark.parametrize(("hours", "flagged"), [("15", False), ("15.5", True)])
def test_one_off_hours_above_the_usual_monthly_volume_go_to_review(seller, hours, flagged):
    # given: 10 hours a month (median) over the last months
    client = client_with_history()
    _history_of_hours(client, ["8", "10", "12"])
    invoice = hours_invoice(client, hours, issue_date=today())
    # when
    decision = invoice_validate(invoice=invoice)
    # then: more than 50 % above 10 h is unusual
    assert (decision.rule == rule("Heures inhabituelles")) is flagged
    if flagged:
        assert decision.message == (
            "15,5 h facturées, plus de 50\u00a0% au-dessus du volume mensuel habituel (10 h)"
        )


def test_hours_without_history_are_not_judged(seller):
    client = client_with_history()
    invoice = hours_invoice(client, "18", issue_date=today())
    assert invoice_validate(invoice=invoice).rule is None


# --- auto-approve -----------------------------------------------------------------------------------


def test_a_recurring_invoice_equal_to_its_contract_is_auto_approved_and_issued(seller):
    # given
    contract = ContractFactory(client=client_with_history(auto_approve=True), amount_ht=Decimal("500.00"))
    invoice = recurring_invoice(contract)
    # when
    decision = invoice_validate(invoice=invoice)
    # then
    invoice.refresh_from_db()
    assert decision.rule == rule("Récurrente conforme au contrat")
    assert invoice.status == Status.ISSUED
    assert invoice.number.startswith(f"F{today().year}")
    kinds = list(invoice.events.values_list("kind", "from_status", "to_status"))
    assert kinds == [
        ("created", "draft", "draft"),
        ("submitted", "draft", "pending_review"),
        ("auto_approved", "pending_review", "approved"),
        ("issued", "approved", "issued"),
    ]
    assert invoice.events.get(kind=EventKind.AUTO_APPROVED).rule == decision.rule


def test_without_the_auto_approve_flag_a_conforming_recurring_invoice_waits_for_a_person(seller):
    contract = ContractFactory(client=client_with_history(auto_approve=False), amount_ht=Decimal("500.00"))
    invoice = recurring_invoice(contract)
    assert invoice_validate(invoice=invoice).rule is None
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW


# --- rules are data ---------------------------------------------------------------------------------


def test_raising_the_review_threshold_in_data_changes_the_outcome_and_is_logged(seller):
    # given: a conforming recurring invoice of 2 500 € is held by the 2 000 € threshold
    user = UserFactory(username="gerant")
    contract = ContractFactory(client=client_with_history(auto_approve=True), amount_ht=Decimal("2500.00"))
    invoice = recurring_invoice(contract)
    assert invoice_validate(invoice=invoice).rule == rule("Montant élevé")
    # when: the firm raises the threshold to 3 000 €
    rule_update(rule=rule("Montant élevé"), user=user, threshold=Decimal("3000.00"))
    report = validate_pending()
    # then
    assert report.counts() == {"approved": 1, "rejected": 0, "review": 0}
    assert Invoice.objects.get(pk=invoice.pk).status == Status.ISSUED
    log = RuleChangeLog.objects.get(rule=rule("Montant élevé"))
    assert log.user == user
    assert (log.before["threshold"], log.after["threshold"]) == ("2000.00", "3000.00")
    assert log.changed_fields == ["threshold"]


def test_an_inactive_rule_does_not_decide(seller):
    rule_update(rule=rule("Total HT trop faible"), user=None, active=False)
    invoice = pending(client_with_history(), amount="5.00")
    assert invoice_validate(invoice=invoice).rule is None


def test_the_first_rule_in_order_wins(seller):
    # given: both "no SIREN" (reject) and "above 2000" (review) apply; review is moved first
    rule_update(rule=rule("Montant élevé"), user=None, order=1)
    invoice = pending(client_with_history(siren=""), amount="2500.00")
    # when / then
    assert invoice_validate(invoice=invoice).rule == rule("Montant élevé")


def test_a_rule_edit_that_the_engine_could_not_run_is_refused_and_writes_nothing():
    with pytest.raises(InputError) as caught:
        rule_update(rule=rule("Montant élevé"), user=None, comparison="")
    assert caught.value.where == "règle « Montant élevé », champ « comparaison »"
    assert caught.value.reason == "ce contrôle a besoin d'une comparaison (<, ≤, >, ≥)"
    assert rule("Montant élevé").comparison == "gt"
    assert not RuleChangeLog.objects.exists()


def test_an_edit_that_changes_nothing_is_not_logged():
    rule_update(rule=rule("Montant élevé"), user=None, threshold=Decimal("2000"))
    assert not RuleChangeLog.objects.exists()


# --- submit and the command -------------------------------------------------------------------------


def test_submitting_a_draft_logs_it_and_runs_the_rules(seller):
    # given
    user = UserFactory()
    invoice = make_invoice(client=client_with_history(), amounts=(Decimal("3.00"),))
    # when
    decision = invoice_submit(invoice=invoice, user=user)
    # then
    assert decision.rule == rule("Total HT trop faible")
    assert list(invoice.events.values_list("kind", "actor")) == [
        ("created", None),
        ("submitted", user.pk),
        ("rejected", user.pk),
    ]


def test_validate_pending_prints_the_counts_as_json(seller):
    # given: one of each outcome
    good_client = client_with_history(auto_approve=True)
    recurring_invoice(ContractFactory(client=good_client))
    pending(client_with_history(), amount="1.00")
    pending(client_with_history(), amount="5000.00")
    already_issued = InvoiceEvent.objects.filter(kind=EventKind.ISSUED).count()
    out = StringIO()
    # when
    call_command("validate_pending", "--json", stdout=out)
    # then
    data = json.loads(out.getvalue())
    assert (data["approved"], data["rejected"], data["review"]) == (1, 1, 1)
    assert {d["outcome"] for d in data["details"]} == {"approved", "rejected", "review"}
    assert InvoiceEvent.objects.filter(kind=EventKind.ISSUED).count() == already_issued + 1


def test_validate_pending_dry_run_writes_nothing(seller):
    invoice = pending(client_with_history(), amount="1.00")
    out = StringIO()
    call_command("validate_pending", "--dry-run", stdout=out)
    assert "1 rejetée(s)" in out.getvalue()
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW
