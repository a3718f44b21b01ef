"""`generate_recurring --date` far in the future is most likely a typo: it asks for --force."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invoicing.models import Invoice
from syaga.core.dates import add_months, today
from tests.factories import ContractFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def monthly(seller):
    start = today().replace(day=1)
    return ContractFactory(amount_ht=Decimal("400.00"), start_date=start, next_billing_date=start)


def test_a_date_years_ahead_is_refused_with_what_it_would_create(monthly):
    # given: a date three years ahead (a typo'd year, say)
    far = add_months(today(), 36)
    # when
    with pytest.raises(CommandError) as refused:
        call_command("generate_recurring", "--date", far.isoformat(), stdout=StringIO())
    # then: nothing written, the message names the date, the invoices it would create and the way on
    message = str(refused.value)
    assert f"--date {far:%d/%m/%Y}" in message
    assert "37 facture(s) seraient créées d'un coup pour 1 contrat(s)" in message
    assert "--force" in message
    assert not Invoice.objects.exists()
    monthly.refresh_from_db()
    assert monthly.next_billing_date == today().replace(day=1)


def test_force_bills_up_to_the_far_date(monthly):
    # when
    far = add_months(today(), 36)
    call_command("generate_recurring", "--date", far.isoformat(), "--force", stdout=StringIO())
    # then: the 37 invoices the refusal announced
    assert Invoice.objects.filter(contract=monthly).count() == 37


def test_a_dry_run_needs_no_force_and_writes_nothing(monthly):
    out = StringIO()
    call_command("generate_recurring", "--date", add_months(today(), 36).isoformat(), "--dry-run", stdout=out)
    assert "37 facture(s) à créer" in out.getvalue()
    assert not Invoice.objects.exists()


def test_up_to_a_month_ahead_needs_no_force(monthly):
    call_command("generate_recurring", "--date", add_months(today(), 1).isoformat(), stdout=StringIO())
    assert Invoice.objects.filter(contract=monthly).count() == 2
