"""The owner's day in a real browser at 1400 px: sign in, read the first page, create → submit → approve an
invoice, issue a credit note, open the client. Screenshots of the first page, an invoice and a client go to
``SCREENSHOT_DIR`` when set (to look at them), else to the test's temporary directory.

As in test_pages_in_chromium: the data is prepared before the browser opens and checked after it closes.
"""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from banking.models import BankAccount
from invoicing.models import Invoice
from invoicing.models.invoice import Kind, Status
from syaga.core.dates import today
from tests.browser.test_pages_in_chromium import CHROMIUM, chromium_page, client_with_history, sign_in
from tests.factories import ContractFactory, UserFactory, make_invoice
from tests.ops.first_page_data import recorded_cycle, todays_time, weeks_mail

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)"),
    pytest.mark.django_db(transaction=True),
]

EUR = "\u00a0€"
NNBSP = "\u202f"


@pytest.fixture
def shots(tmp_path) -> Path:
    where = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def owner(seller):
    return UserFactory(username="approver", is_superuser=True, password="pass-word-123")


@pytest.fixture
def books(owner):
    t = today()
    client = client_with_history("Pharmabest SAS")
    for age, amount in [(50, "1000.00"), (100, "500.00"), (20, "300.00")]:
        make_invoice(
            client=client,
            amounts=(Decimal(amount),),
            status=Status.SENT,
            issue_date=t - dt.timedelta(days=age),
        )
    make_invoice(client=client, amounts=(Decimal("750.00"),), status=Status.PENDING_REVIEW)
    ContractFactory(
        client=client, start_date=t - dt.timedelta(days=90), next_billing_date=t + dt.timedelta(days=3)
    )
    BankAccount.objects.create(qonto_id="main", name="Compte courant", balance=Decimal("18250.40"))
    return client


TILES = ("receivables", "review-queue", "bank", "cycle", "indicators", "time", "mail")


def test_sign_in_and_read_the_first_page(live_server, books, shots, settings):
    settings.QONTO_LOGIN, settings.QONTO_SECRET_KEY = "syaga", "secret"
    todays_time()
    weeks_mail()
    recorded_cycle()
    with chromium_page() as page:
        sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/admin/")
        tiles = {name: page.inner_text(f"#tile-{name}") for name in TILES}
        charts = page.locator(".tile .chart svg").count()
        width = page.evaluate("document.documentElement.scrollWidth")
        # every tile inside the page's width, none drawn over its neighbour
        boxes = {name: page.locator(f"#tile-{name}").bounding_box() for name in TILES}
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll('section.tile[id^="tile-"]')]
                .filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.id)"""
        )
        page.screenshot(path=str(shots / "first-page.png"), full_page=True)
    assert "Ce que les clients doivent" in tiles["receivables"]
    assert "J+60" in tiles["receivables"]
    assert "1 facture" in tiles["review-queue"]
    assert f"18{NNBSP}250,40{EUR}" in tiles["bank"]
    assert "Rapprochement des paiements" in tiles["cycle"]
    assert "en échec" in tiles["cycle"]
    assert "non planifié" in tiles["cycle"]
    assert "Taux de recouvrement" in tiles["indicators"]
    assert "Part facturable" in tiles["time"]
    assert "Urgence 5" in tiles["mail"]
    assert charts == 2
    assert width <= 1400  # nothing runs off the screen
    assert overflowing == []
    assert all(box["x"] + box["width"] <= 1400 for box in boxes.values())


def test_create_submit_approve_then_credit_note(live_server, books, shots):
    client = books
    issue = today().strftime("%d/%m/%Y")
    with chromium_page() as page:
        sign_in(page, live_server.url)
        # create: the client chosen, one line, no due date (it follows the client's terms)
        page.goto(f"{live_server.url}/admin/invoicing/invoice/add/?client={client.pk}")
        page.fill("#id_subject", "Migration de la messagerie")
        page.fill("#id_issue_date", issue)
        page.fill("#id_lines-0-description", "Migration vers Microsoft 365")
        page.fill("#id_lines-0-quantity", "3")
        page.select_option("#id_lines-0-unit", "day")
        page.fill("#id_lines-0-unit_price", "800")
        page.fill("#id_lines-0-vat_rate", "20")
        page.click("input[name=_continue]")
        page.wait_for_selector("#action-submit")
        # submit, then approve through its confirmation
        page.click("#action-submit")
        page.wait_for_selector("#action-approve")
        page.click("#action-approve")
        page.wait_for_selector("text=numéro définitif")
        confirmation = page.inner_text("#content")
        page.click("#confirm")
        page.wait_for_selector(".messagelist .success")
        approved = page.inner_text(".messagelist")
        page.screenshot(path=str(shots / "invoice.png"), full_page=True)
        invoice_page = page.inner_text("#content")
        # a credit note for an amount
        page.click("#action-credit-note")
        page.check("#mode-amount")
        page.fill("#id_amount", "400,00")
        page.fill("#id_reason", "Journée non réalisée")
        page.click("#confirm")
        page.wait_for_selector(".messagelist .success")
        credited = page.inner_text(".messagelist")
        page.screenshot(path=str(shots / "credit-note.png"), full_page=True)
        page.goto(f"{live_server.url}/admin/invoicing/client/{client.pk}/change/")
        client_page = page.inner_text("#content")
        page.screenshot(path=str(shots / "client.png"), full_page=True)
    invoice = Invoice.objects.get(subject="Migration de la messagerie")
    note = Invoice.objects.get(kind=Kind.CREDIT_NOTE)
    assert f"2{NNBSP}880,00{EUR}" in confirmation
    assert invoice.status == Status.ISSUED
    assert invoice.number in approved
    assert invoice.due_date == today() + dt.timedelta(days=30)
    assert "Reste dû" in invoice_page
    assert note.total_ttc == Decimal("480.00")
    assert note.number in credited
    assert invoice.number in client_page
    assert "Solde dû" in client_page
