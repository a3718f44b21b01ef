"""Billable hours become draft invoices in review: one per client, rounded as the settings say (and as the
invoice says), lines adding up to the total exactly, each entry billed once, nothing half-done."""

import datetime as dt
import importlib
import io
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from invoicing.documents.pdf import invoice_pdf_render
from invoicing.models import Invoice
from invoicing.models.invoice import Origin, Status, Unit
from invoicing.services.lifecycle import invoice_approve_as_system
from syaga.core.money import quantize
from tests.factories import ClientFactory, ContractFactory
from tests.timetracking.helpers import make_entry, paris
from timetracking.conf import rounding_rule
from timetracking.models import Category, TimeEntry
from timetracking.selectors import invoice_annex, invoice_timesheet_annex
from timetracking.services import billing
from timetracking.services.billing import timesheets_bill
from timetracking.services.categorisation import entry_category_override

pytestmark = pytest.mark.django_db
MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def firm(seller, settings):
    settings.TIMESHEET_ROUNDING_UNIT = "quarter"
    settings.TIMESHEET_ROUNDING_SCOPE = "line"
    settings.TIMESHEET_ROUNDING_DIRECTION = "nearest"
    settings.TIMESHEET_LINE_GROUPING = "project"
    settings.TIMESHEET_DEFAULT_HOURLY_RATE = "110.00"
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1))
    martin = ClientFactory(name="Garage Martin")
    durand = ClientFactory(name="Cabinet Durand", hourly_rate=Decimal("95.00"))
    return pharmabest, martin, durand


def lines_of(invoice):
    return [(line.description, line.quantity, line.unit_price, line.total_ht) for line in invoice.lines.all()]


def test_one_invoice_in_review_per_client_with_facturable_time(firm):
    pharmabest, martin, durand = firm
    # given: March time for three clients, plus time that is not billed
    e1 = make_entry(paris(2026, 3, 2), minutes=50, client="Garage Martin", project="Audit réseau")
    e2 = make_entry(paris(2026, 3, 9), minutes=20, client="Garage Martin", project="Audit réseau")
    e3 = make_entry(paris(2026, 3, 10), minutes=90, client="Garage Martin", project="Pare-feu")
    e4 = make_entry(paris(2026, 3, 11), minutes=120, client="Cabinet Durand", project="Messagerie")
    extra = make_entry(
        paris(2026, 3, 12), minutes=60, client="Pharmabest", project="Migration", tags=["extra"]
    )
    flat = make_entry(paris(2026, 3, 12, 14), minutes=240, client="Pharmabest", project="Infogérance")
    internal = make_entry(paris(2026, 3, 13), minutes=60, client="SYAGA", project="Veille")
    april = make_entry(paris(2026, 4, 1), minutes=60, client="Garage Martin", project="Audit réseau")
    # when
    report = timesheets_bill(month=MARCH)
    # then
    assert [b.client_name for b in report.bills] == ["Cabinet Durand", "Garage Martin", "Pharmabest SAS"]
    invoice = Invoice.objects.get(client=martin)
    assert invoice.origin == Origin.TIMESHEET
    assert invoice.status == Status.PENDING_REVIEW
    assert (invoice.period_start, invoice.period_end) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert invoice.subject == (
        "Prestations au temps passé – mars 2026 "
        "(temps arrondi au quart d'heure le plus proche, ligne par ligne)"
    )
    assert "Taux horaire : 110,00\u00a0€ HT" in invoice.notes
    # 50 + 20 min = 1 h 10 → 1,25 h ; 1 h 30 → 1,5 h
    assert lines_of(invoice) == [
        ("Audit réseau", Decimal("1.2500"), Decimal("110.0000"), Decimal("137.50")),
        ("Pare-feu", Decimal("1.5000"), Decimal("110.0000"), Decimal("165.00")),
    ]
    assert {line.unit for line in invoice.lines.all()} == {Unit.HOUR}
    assert invoice.total_ht == Decimal("302.50")
    assert lines_of(Invoice.objects.get(client=durand)) == [
        ("Messagerie", Decimal("2.0000"), Decimal("95.0000"), Decimal("190.00"))
    ]
    assert lines_of(Invoice.objects.get(client=pharmabest)) == [
        ("Migration", Decimal("1.0000"), Decimal("110.0000"), Decimal("110.00"))
    ]
    for entry in (e1, e2, e3):
        entry.refresh_from_db()
        assert entry.invoice == invoice
    assert e1.invoice_line == e2.invoice_line == invoice.lines.get(description="Audit réseau")
    for entry in (flat, internal, april):
        entry.refresh_from_db()
        assert entry.invoice is None
    assert TimeEntry.objects.filter(invoice__isnull=False).count() == 5
    e4.refresh_from_db()
    extra.refresh_from_db()
    assert e4.billed_seconds == 7200


@pytest.mark.parametrize(
    ("unit", "scope", "direction", "hours"),
    [
        ("quarter", "line", "nearest", "1.2500"),  # 70 min 29 s → 75 min
        ("quarter", "entry", "nearest", "1.0000"),  # 50 → 45, 20:29 → 15
        ("quarter", "entry", "up", "1.5000"),  # 50 → 60, 20:29 → 30
        ("half", "line", "nearest", "1.0000"),  # 70:29 → 60
        ("half", "line", "up", "1.5000"),  # 70:29 → 90
        ("minute", "line", "nearest", "1.1667"),  # 70:29 → 70 min
        ("minute", "line", "up", "1.1833"),  # 70:29 → 71 min
        ("minute", "entry", "nearest", "1.1667"),  # 50 + 20 min
    ],
)
def test_the_rounding_rule_of_the_settings_is_applied_and_stated(
    firm, settings, unit, scope, direction, hours
):
    # given: 50 min and 20 min 29 s on one project
    settings.TIMESHEET_ROUNDING_UNIT, settings.TIMESHEET_ROUNDING_SCOPE = unit, scope
    settings.TIMESHEET_ROUNDING_DIRECTION = direction
    make_entry(paris(2026, 3, 2), minutes=50)
    make_entry(paris(2026, 3, 3), seconds=20 * 60 + 29)
    # when
    timesheets_bill(month=MARCH)
    # then
    invoice = Invoice.objects.get()
    line = invoice.lines.get()
    assert line.quantity == Decimal(hours)
    assert line.total_ht == quantize(Decimal(hours) * Decimal("110"))
    statement = {"line": "ligne par ligne", "entry": "saisie par saisie"}[scope]
    assert statement in invoice.subject


def test_minute_rounding_lines_add_up_to_the_total_to_the_cent(firm, settings):
    # given: awkward durations on several projects at an awkward rate
    settings.TIMESHEET_ROUNDING_UNIT = "minute"
    martin = firm[1]
    martin.hourly_rate = Decimal("97.35")
    martin.save()
    for i, minutes in enumerate([7, 13, 29, 41, 53, 67, 71, 83, 97, 101, 113, 127]):
        make_entry(paris(2026, 3, 2 + i), minutes=minutes, project=f"Projet {i % 5}")
    # when
    timesheets_bill(month=MARCH)
    # then
    invoice = Invoice.objects.get()
    lines = list(invoice.lines.all())
    assert len(lines) == 5
    for line in lines:
        assert line.total_ht == quantize(line.quantity * line.unit_price)
    assert sum(line.total_ht for line in lines) == invoice.total_ht
    assert invoice.total_ttc == invoice.total_ht + invoice.total_vat


def test_lines_per_task_when_the_settings_say_so(firm, settings):
    settings.TIMESHEET_LINE_GROUPING = "task"
    make_entry(paris(2026, 3, 2), project="Audit", task="Câblage")
    make_entry(paris(2026, 3, 3), project="Audit", task="Rapport")
    make_entry(paris(2026, 3, 4), project="", task="")
    timesheets_bill(month=MARCH)
    descriptions = [d for d, *_ in lines_of(Invoice.objects.get())]
    assert descriptions == ["Audit – Câblage", "Audit – Rapport", "Interventions hors projet"]


def test_running_it_again_bills_nothing_twice(firm):
    # given
    make_entry(paris(2026, 3, 2), minutes=60)
    first = timesheets_bill(month=MARCH)
    # when
    make_entry(paris(2026, 3, 20), minutes=30, project="Suivi")
    second = timesheets_bill(month=MARCH)
    # then: only the new entry, on a new invoice
    assert len(first.bills) == len(second.bills) == 1
    assert Invoice.objects.count() == 2
    assert [d for d, *_ in lines_of(Invoice.objects.get(pk=second.bills[0].invoice_id))] == ["Suivi"]
    assert timesheets_bill(month=MARCH).bills == []


def test_a_failure_midway_leaves_no_invoice_and_no_entry_billed(firm, monkeypatch):
    # given: the second invoice of the run fails
    make_entry(paris(2026, 3, 2), client="Garage Martin")
    make_entry(paris(2026, 3, 2), client="Cabinet Durand")
    calls = []
    real = billing.invoice_create

    def failing(**kwargs):
        calls.append(kwargs["client"].name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(billing, "invoice_create", failing)
    # when
    with pytest.raises(RuntimeError):
        timesheets_bill(month=MARCH)
    # then
    assert calls == ["Cabinet Durand", "Garage Martin"]
    assert Invoice.objects.count() == 0
    assert TimeEntry.objects.filter(invoice__isnull=False).count() == 0


def test_time_for_a_client_unknown_to_the_back_office_is_reported_not_billed(firm):
    make_entry(paris(2026, 3, 2), minutes=90, client="Boulangerie Inconnue")
    report = timesheets_bill(month=MARCH)
    assert report.bills == []
    assert report.unknown_clients == {"Boulangerie Inconnue": 5400}
    assert TimeEntry.objects.get().invoice is None


def test_time_below_the_rounding_unit_is_not_billed(firm):
    make_entry(paris(2026, 3, 2), minutes=5)
    report = timesheets_bill(month=MARCH)
    assert report.below_unit == ["Garage Martin"]
    assert Invoice.objects.count() == 0


def test_deleting_the_draft_frees_its_entries_for_the_next_run(firm):
    make_entry(paris(2026, 3, 2))
    report = timesheets_bill(month=MARCH)
    Invoice.objects.get(pk=report.bills[0].invoice_id).delete()
    assert TimeEntry.objects.get().invoice is None
    assert len(timesheets_bill(month=MARCH).bills) == 1


def test_an_entry_forced_to_facturable_is_billed_and_a_running_timer_is_not(firm):
    flat = make_entry(paris(2026, 3, 2), client="Pharmabest", project="Infogérance")
    entry_category_override(entry=flat, category=Category.FACTURABLE, user=None)
    make_entry(paris(2026, 3, 3), client="Pharmabest", project="Infogérance", running=True, tags=["extra"])
    report = timesheets_bill(month=MARCH)
    assert [(b.client_name, b.entries) for b in report.bills] == [("Pharmabest SAS", 1)]


def test_the_annex_lists_each_line_s_entries(firm):
    make_entry(paris(2026, 3, 2), minutes=50, project="Audit réseau", description="Relevé des équipements")
    make_entry(paris(2026, 3, 9), minutes=20, project="Audit réseau", description="Rapport")
    report = timesheets_bill(month=MARCH)
    invoice = Invoice.objects.get(pk=report.bills[0].invoice_id)
    # when
    annex = invoice_annex(invoice)
    html = render_to_string("timetracking/annex.html", {"annex": annex})
    # then
    assert annex["count"] == 2
    assert [e.description for e in annex["lines"][0]["entries"]] == ["Relevé des équipements", "Rapport"]
    assert "Audit réseau – 1,25 h × 110,00\u00a0€ = 137,50\u00a0€ HT" in html
    assert "02/03/2026" in html
    assert "0\u00a0h\u00a050" in html
    assert "2 saisies, 1\u00a0h\u00a010 au total." in html


def test_the_printed_invoice_carries_the_entries_as_an_annex(firm):
    # given: two entries of March billed, the invoice approved and issued
    make_entry(paris(2026, 3, 2), minutes=50, project="Audit réseau", description="Relevé des équipements")
    make_entry(paris(2026, 3, 9), minutes=20, project="Audit réseau", description="Rapport")
    report = timesheets_bill(month=MARCH)
    invoice = Invoice.objects.get(pk=report.bills[0].invoice_id)
    invoice_approve_as_system(invoice=invoice, reason="test", issue_date=dt.date(2026, 4, 1))
    invoice.refresh_from_db()
    # when
    pages = PdfReader(io.BytesIO(invoice_pdf_render(invoice))).pages
    # then: the invoice announces its annex, which follows on a page of its own, entry by entry
    first, annex = (" ".join(page.extract_text().split()) for page in pages)
    assert "Détail des 2 saisies de temps de mars 2026 en annexe." in first
    assert f"Annexe 1 : détail des saisies de temps Facture n° {invoice.number} du 01/04/2026" in annex
    assert "02/03/2026 Jean Dupont Audit réseau Relevé des équipements 0 h 50 0 h 50" in annex
    assert "09/03/2026 Jean Dupont Audit réseau Rapport 0 h 20 0 h 20" in annex
    assert "Total 2 saisie(s) 1 h 10 1,25 h" in annex


def test_a_recurring_invoice_has_no_annex(seller):
    contract = ContractFactory(client=ClientFactory(name="Pharmabest SAS"), start_date=dt.date(2026, 1, 1))
    invoice = Invoice.objects.create(client=contract.client, origin=Origin.RECURRING)
    with CaptureQueriesContext(connection) as queries:
        assert invoice_timesheet_annex(invoice) is None
    assert len(queries) == 0


def test_the_command_bills_and_refuses_a_bad_month(firm):
    make_entry(paris(2026, 3, 2), minutes=90)
    out = StringIO()
    call_command("bill_timesheets", "--month", "2026-03", stdout=out)
    assert (
        "Garage Martin : 1,5 h × 110,00\u00a0€ = 165,00\u00a0€ HT (1 ligne(s), 1 saisie(s))" in out.getvalue()
    )
    assert "mars 2026 : 1 facture(s) créée(s) et envoyée(s) à valider, 165,00\u00a0€ HT" in out.getvalue()
    with pytest.raises(CommandError, match=r"^--month « mars » : attendu AAAA-MM, par exemple 2026-03$"):
        call_command("bill_timesheets", "--month", "mars")


def test_a_wrong_rounding_setting_is_named_and_bills_nothing(firm, settings):
    make_entry(paris(2026, 3, 2), minutes=90)
    settings.TIMESHEET_ROUNDING_UNIT = "hour"
    with pytest.raises(
        CommandError,
        match=r"^TIMESHEET_ROUNDING_UNIT='hour' : valeurs possibles minute, quarter, half ; "
        r"rien n'a été facturé$",
    ):
        call_command("bill_timesheets", "--month", "2026-03", stdout=StringIO(), stderr=StringIO())
    assert not Invoice.objects.exists()


def test_dry_run_bills_nothing(firm):
    make_entry(paris(2026, 3, 2), minutes=90)
    report = timesheets_bill(month=MARCH, dry_run=True)
    assert report.total_ht == Decimal("165.00")
    assert Invoice.objects.count() == 0
    assert TimeEntry.objects.get().invoice is None


@pytest.fixture
def default_rules():
    """The default categorisation rules, put back: a transactional test runs after others flushed the tables
    (data from migrations included)."""
    importlib.import_module("timetracking.migrations.0002_default_category_rules").create_rules(apps, None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_billing_at_once_bill_each_entry_once(firm, default_rules):
    # given: 60 entries for 3 clients, billed by two threads on their own PostgreSQL connections
    ClientFactory(name="Boulangerie Dupain")
    for i in range(60):
        make_entry(
            paris(2026, 3, 1 + i % 28, 9 + i % 8),
            minutes=30 + i,
            client=("Garage Martin", "Cabinet Durand", "Boulangerie Dupain")[i % 3],
        )
    barrier = threading.Barrier(2)
    errors, reports = [], []

    def worker():
        try:
            barrier.wait()
            reports.append(timesheets_bill(month=MARCH))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert connection.vendor == "postgresql"
    assert errors == []
    assert sorted(len(r.bills) for r in reports) == [0, 3]
    assert Invoice.objects.count() == 3
    assert TimeEntry.objects.filter(invoice__isnull=True).count() == 0
    rule = rounding_rule()
    for invoice in Invoice.objects.all():
        worked = sum(e.duration_seconds for e in TimeEntry.objects.filter(invoice=invoice))
        assert invoice.lines.get().quantity == billing.hours_of(rule.apply(worked))


def test_the_due_date_follows_the_client_s_payment_terms_else_the_firm_s(firm):
    _, martin, durand = firm
    durand.payment_terms_days = 45
    durand.save()
    make_entry(paris(2026, 3, 2), client="Garage Martin")
    make_entry(paris(2026, 3, 2), client="Cabinet Durand")
    timesheets_bill(month=MARCH)
    for client, days in ((martin, 30), (durand, 45)):
        invoice = Invoice.objects.get(client=client)
        assert invoice.due_date == invoice.issue_date + dt.timedelta(days=days)
