"""Payments handled by a person in a real browser (Debian's chromium driven by Playwright, 1400 px wide):
an unrecognised credit allocated by hand across two invoices, a suggestion confirmed, the transactions list.

Skipped with a reason when chromium is not installed (REQUIRE_BROWSER=1 makes its absence a failure).
Playwright keeps an event loop in the test's thread while the browser is open and Django refuses database
calls there: the data is prepared before the browser opens and checked after it closes.
"""

import contextlib
import datetime as dt
import os
import shutil
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from banking.models import BankAccount, BankTransaction, ClientCredit, MatchStatus
from banking.services.allocation import payments_match
from banking.services.decisions import transaction_mark_no_invoice
from invoicing.models import Client, Invoice
from invoicing.models.invoice import Status
from tests.factories import UserFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("REQUIRE_BROWSER") == "1":
    raise RuntimeError("REQUIRE_BROWSER=1 but chromium is not installed (apt-get install chromium)")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARIS = ZoneInfo("Europe/Paris")
# Where the screenshots go besides pytest's tmp_path, to look at them after a run.
SHOTS = os.environ.get("SCREENSHOTS_DIR", "")


@contextlib.contextmanager
def chromium_page():
    if os.environ.get("REQUIRE_BROWSER") == "1":
        import playwright.sync_api as playwright  # a missing package fails here instead of skipping
    else:
        playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
        finally:
            browser.close()


def screenshot(page, tmp_path, name):
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def issued(client, ttc, number, issue):
    ttc = Decimal(ttc)
    ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
    return Invoice.objects.create(
        number=number,
        series="F",
        client=client,
        status=Status.ISSUED,
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        total_ht=ht,
        total_vat=ttc - ht,
        total_ttc=ttc,
    )


def credit(n, amount, label, reference="", day=dt.date(2025, 4, 10)):
    return BankTransaction.objects.create(
        qonto_id=f"q{n}",
        transaction_id=f"syaga-transaction-{n}",
        account=BankAccount.objects.get_or_create(qonto_id="acc", defaults={"name": "Qonto principal"})[0],
        amount=Decimal(amount),
        side="credit",
        operation_type="income",
        status="completed",
        label=label,
        clean_counterparty_name=label,
        reference=reference,
        settled_at=dt.datetime.combine(day, dt.time(9, 30), tzinfo=PARIS),
    )


@pytest.fixture
def bank(db):
    """A bank account with a matched, a suggested, an unrecognised and a non-invoice credit."""
    UserFactory(username="tresorier", is_superuser=True, password="pass-word-123")
    bellevue = Client.objects.create(name="Hôtel Bellevue")
    first = issued(bellevue, "600.00", "F20250101", dt.date(2025, 1, 6))
    second = issued(bellevue, "700.00", "F20250102", dt.date(2025, 2, 6))
    audit, audits = (
        Client.objects.create(name="CALANQUE AUDIT"),
        Client.objects.create(name="CALANQUE AUDITS"),
    )
    twin = issued(audit, "1000.00", "F20250201", dt.date(2025, 3, 3))
    issued(audits, "1000.00", "F20250202", dt.date(2025, 3, 3))
    pharma = Client.objects.create(name="PHARMABEST SARL")
    paid = issued(pharma, "1234.56", "F20250301", dt.date(2025, 3, 10))
    unknown = credit(1, "1000.00", "FINANCIERE DU MIDI", "VIREMENT", dt.date(2025, 4, 8))
    suggested = credit(2, "1000.00", "CALANQUE AUDT", "", dt.date(2025, 4, 9))
    credit(3, "1250.00", "PHARMABEST", f"FACTURE {paid.number}", dt.date(2025, 4, 10))
    refund = credit(4, "86.40", "DGFIP", "REMBOURSEMENT CREDIT TVA", dt.date(2025, 4, 11))
    payments_match()
    transaction_mark_no_invoice(transaction=refund, user=None)
    suggested.refresh_from_db()
    index = next(
        i for i, c in enumerate(suggested.match_candidates) if c["allocations"][0]["invoice"] == twin.number
    )
    return {
        "unknown": unknown,
        "suggested": suggested,
        "candidate": index,
        "first": first,
        "second": second,
        "twin": twin,
        "bellevue": bellevue,
    }


def sign_in(page, base_url):
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", "tresorier")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_allocate_by_hand_confirm_a_suggestion_and_read_the_transactions_list(live_server, bank, tmp_path):
    unknown, suggested = bank["unknown"], bank["suggested"]
    with chromium_page() as page:
        sign_in(page, live_server.url)
        # the transactions list, as the day starts
        page.goto(f"{live_server.url}/admin/banking/banktransaction/")
        listed = page.inner_text("#result_list")
        # the table against the box the admin gives it (which scrolls sideways when it is too wide)
        overflow = page.evaluate(
            "(() => { const t = document.querySelector('#result_list');"
            " return t.scrollWidth - t.parentElement.clientWidth; })()"
        )
        screenshot(page, tmp_path, "transactions-list.png")

        # an unrecognised credit: open its allocation form from the list, find the client, type two amounts
        page.click(f"a[href$='/banktransaction/{unknown.pk}/allocate/']")
        page.fill("#id_q", "Bellevue")
        page.click("#client-search button[type=submit]")
        page.click("text=Hôtel Bellevue")
        page.fill(f"#id_amount_{bank['first'].pk}", "600,00")
        page.fill(f"#id_amount_{bank['second'].pk}", "400")
        remainder = page.inner_text("#remainder")
        screenshot(page, tmp_path, "allocation-form.png")
        page.click("input[name=allocate]")
        page.wait_for_selector(".messagelist .success")
        allocated_message = page.inner_text(".messagelist")

        # a suggestion: confirm the right candidate from the page of payments to confirm
        page.goto(f"{live_server.url}/admin/banking/banktransaction/suggestions/")
        suggestions = page.inner_text("#content-main")
        screenshot(page, tmp_path, "payments-to-confirm.png")
        page.click(
            f"form[action$='/banktransaction/{suggested.pk}/confirm/'] button[name=candidate]"
            f"[value='{bank['candidate']}']"
        )
        page.wait_for_selector(".messagelist .success")
        confirmed_message = page.inner_text(".messagelist")

        page.goto(f"{live_server.url}/admin/banking/banktransaction/{unknown.pk}/change/")
        transaction_page = page.inner_text("#content")
        screenshot(page, tmp_path, "transaction-allocated.png")

        page.goto(f"{live_server.url}/admin/banking/banktransaction/")
        listed_after = page.inner_text("#result_list")
        screenshot(page, tmp_path, "transactions-list-after.png")

    # then: the list said what each credit is, in French, in euros, and fits 1400 px
    assert overflow <= 0
    for text in ("non reconnu", "suggéré", "rapproché automatiquement", "ne paie aucune facture"):
        assert text in listed, text
    assert "1\u202f250,00\xa0€" in listed
    assert "15,44\xa0€" in listed  # the rounded-up overpayment, kept as the client's credit
    assert "08/04/2025" in listed
    # the form showed what was left while typing
    assert remainder == "0,00\xa0€"
    assert "F20250101 (600,00\xa0€), F20250102 (400,00\xa0€)" in allocated_message
    assert "F20250201" in suggestions
    assert "F20250201 (1\u202f000,00\xa0€)" in confirmed_message
    assert "confirmé par une personne" in listed_after
    assert "affecté par tresorier" in transaction_page
    assert "Annuler la décision" in transaction_page
    # and the database agrees
    first, second, twin = (Invoice.objects.get(pk=bank[k].pk) for k in ("first", "second", "twin"))
    assert (first.status, second.status, twin.status) == (Status.PAID, Status.PARTIALLY_PAID, Status.PAID)
    assert second.balance_due == Decimal("300.00")
    assert BankTransaction.objects.get(pk=unknown.pk).match_status == MatchStatus.CONFIRMED
    assert BankTransaction.objects.get(pk=suggested.pk).match_status == MatchStatus.CONFIRMED
    assert not ClientCredit.objects.filter(client=bank["bellevue"]).exists()
