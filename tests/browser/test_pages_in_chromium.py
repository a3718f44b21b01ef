"""The back-office in a real browser (Debian's chromium driven by Playwright), as a person uses it.

Skipped with a reason when chromium is not installed (``.ci/run`` installs it; REQUIRE_BROWSER=1 makes its
absence a failure). Playwright's sync API keeps an event loop in the test's thread while the browser is
open, and Django refuses database calls there: each test prepares its data before opening the browser and
checks the database after closing it.
"""

import contextlib
import datetime as dt
import os
import shutil
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from invoicing.models.invoice import Status
from syaga.core.dates import today
from tests.factories import ClientFactory, UserFactory, make_invoice

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


def client_with_history(name):
    client = ClientFactory(name=name)
    make_invoice(
        client=client,
        amounts=(Decimal("300.00"),),
        status=Status.ISSUED,
        issue_date=today() - dt.timedelta(days=400),
    )
    return client


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


@pytest.fixture
def approver(seller):
    return UserFactory(username="approver", is_superuser=True, password="pass-word-123")


def sign_in(page, base_url):
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", "approver")
    page.fill("#id_password", "pass-word-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_approve_the_review_queue_in_the_browser(live_server, approver, tmp_path):
    # given: two invoices waiting for review
    waiting = [
        make_invoice(
            client=client_with_history(name), amounts=(Decimal(amount),), status=Status.PENDING_REVIEW
        )
        for name, amount in [("Pharmabest SAS", "2500.00"), ("Boulangerie Martin", "400.00")]
    ]
    # when: the approver signs in, opens "À valider", selects everything and approves
    with chromium_page() as page:
        sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/invoicing/invoicetoreview/")
        rows_before = page.locator("#result_list tbody tr").count()
        listed = page.inner_text("#result_list")
        page.check("#action-toggle")
        page.select_option("select[name=action]", "approve_selected")
        page.click("button[name=index]")
        page.wait_for_selector("text=numéro définitif")
        confirmation = page.inner_text("#content")
        page.screenshot(path=str(tmp_path / "queue-approve-confirmation.png"), full_page=True)
        page.click("input[type=submit][value^='Approuver et émettre']")
        page.wait_for_selector(".messagelist .success")
        messages = page.inner_text(".messagelist")
        rows_after = page.locator("#result_list tbody tr").count()
        page.screenshot(path=str(tmp_path / "queue-after-approval.png"), full_page=True)
    # then: both were listed, the message names the numbers given, and the queue is empty
    assert rows_before == 2
    assert "Pharmabest SAS" in listed
    assert "Pharmabest SAS" in confirmation
    assert "Boulangerie Martin" in confirmation
    assert "2\u202f900,00\xa0€" in confirmation
    assert "2 facture(s) approuvée(s) et émise(s)" in messages
    assert rows_after == 0
    numbers = sorted(Invoice.objects.filter(pk__in=[i.pk for i in waiting]).values_list("number", flat=True))
    assert len(numbers) == 2
    for number in numbers:
        assert number in messages


def test_issued_invoice_page_shows_the_printed_preview_read_only(live_server, approver, tmp_path):
    # given
    invoice = make_invoice(
        client=client_with_history("Sextant SAS"), amounts=(Decimal("400.00"),), status=Status.ISSUED
    )
    # when
    with chromium_page() as page:
        sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/invoicing/invoice/{invoice.pk}/change/")
        text = page.inner_text("body")
        editable_subject = page.locator("input[name=subject]").count()
        save_buttons = page.locator("input[name=_save]").count()
        page.screenshot(path=str(tmp_path / "invoice.png"), full_page=True)
    # then: the number, the buyer, the totals and the legal mentions a person checks before sending
    assert invoice.number in text
    assert "Sextant SAS" in text
    assert "480,00" in text
    assert "40" in text
    assert editable_subject == 0  # issued: nothing to edit
    assert save_buttons == 0
