"""Review queue speed: batch approval of 500 invoices, and the "À valider" changelist over 100,000 invoices.

Standalone: ``.venv/bin/python benchmarks/bench_review.py`` configures Django on a temporary SQLite file,
migrates it, creates the data and prints the figures (median of several runs, queries counted with
``CaptureQueriesContext``). Targets (review issue): approval of 500 < 10 s with a per-invoice query count
bounded by a small constant; the changelist with 100,000 invoices < 300 ms and ≤ 15 queries.
"""

import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = tempfile.mkdtemp(prefix="bench-review-")
os.environ["DATABASE_URL"] = f"sqlite:///{TMP}/bench.sqlite3"
os.environ.pop("ALLOWED_HOSTS", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client as HttpClient  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from invoicing.models import Client, Invoice, InvoiceLine, SellerProfile  # noqa: E402
from invoicing.models.invoice import Kind, Origin, Status  # noqa: E402
from invoicing.services.review import invoices_approve  # noqa: E402
from syaga.core.dates import today  # noqa: E402

APPROVALS = 500
RUNS = 3
QUEUE_INVOICES = 100_000
QUEUE_PENDING = 1_000
QUEUE_REQUESTS = 7


def seller():
    SellerProfile.objects.create(
        legal_name="SYAGA Consulting",
        legal_form="SAS",
        share_capital=Decimal("10000.00"),
        rcs_city="Marseille",
        siren="732829320",
        vat_number="FR44732829320",
        address_line1="12 rue de la République",
        postal_code="13001",
        city="Marseille",
        email="facturation@syaga.fr",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPPXXX",
    )


def clients(n, offset=0):
    return Client.objects.bulk_create(
        [
            Client(
                name=f"Client {offset + i} SAS",
                normalized_name=f"CLIENT {offset + i}",
                siren="542051180",
                address_line1="1 avenue du Prado",
                postal_code="13008",
                city="Marseille",
                invoice_emails=f"compta{offset + i}@example.fr",
            )
            for i in range(n)
        ]
    )


def invoices(client_list, count, *, status, start_number=None, amount=Decimal("500.00")):
    """``count`` invoices spread over the clients, one line each, totals consistent (20 % VAT)."""
    day = today()
    rows = []
    for i in range(count):
        issued = status == Status.ISSUED
        issue_date = day - dt.timedelta(days=30 + (i % 700)) if issued else day
        rows.append(
            Invoice(
                kind=Kind.INVOICE,
                client=client_list[i % len(client_list)],
                status=Status.DRAFT if issued else status,  # issued below, once the lines are in
                origin=Origin.MANUAL,
                issue_date=issue_date,
                due_date=issue_date + dt.timedelta(days=30),
                number=f"X{start_number + i:09d}" if issued else None,
                series="X" if issued else "",
                total_ht=amount,
                total_vat=amount / 5,
                total_ttc=amount * 6 / 5,
                vat_breakdown=[{"rate": "20.00", "base_ht": str(amount), "vat": str(amount / 5)}],
            )
        )
    created = Invoice.objects.bulk_create(rows, batch_size=2000)
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=inv, position=1, description="Infogérance", unit_price=amount, total_ht=amount
            )
            for inv in created
        ],
        batch_size=2000,
    )
    if status == Status.ISSUED:
        # Benchmark data straight into the table (as an import would): the lifecycle is what is measured.
        Invoice.objects.filter(pk__in=[inv.pk for inv in created]).update(status=status)
    return created


def bench_approval(user):
    base = clients(50, offset=10_000)
    invoices(base, 50, status=Status.ISSUED, start_number=900_000_000)  # history: not a first invoice
    timings, queries = [], []
    for run in range(RUNS):
        pending = invoices(base, APPROVALS, status=Status.PENDING_REVIEW)
        ids = [inv.pk for inv in pending]
        connection.queries_log.clear()  # the log keeps 9,000 queries: start each run empty
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            result = invoices_approve(invoices=ids, user=user)
            timings.append(time.perf_counter() - started)
        assert len(result.succeeded) == APPROVALS, result.failed[:3]
        queries.append(len(ctx.captured_queries))
        print(f"  run {run + 1}: {timings[-1]:.2f} s, {queries[-1]} queries")
    median_q = statistics.median(queries)
    print(
        f"(a) approve {APPROVALS} pending invoices in one batch: median {statistics.median(timings):.2f} s "
        f"over {RUNS} runs, {median_q:.0f} queries ({median_q / APPROVALS:.2f} per invoice)"
    )


def bench_queue(user):
    base = clients(1_000)
    started = time.perf_counter()
    with transaction.atomic():
        invoices(
            base,
            QUEUE_INVOICES - QUEUE_PENDING - Invoice.objects.count(),
            status=Status.ISSUED,
            start_number=1,
        )
        invoices(base, QUEUE_PENDING, status=Status.PENDING_REVIEW, amount=Decimal("2500.00"))
    print(
        f"  created {Invoice.objects.count()} invoices in {time.perf_counter() - started:.1f} s "
        f"({Invoice.objects.filter(status=Status.PENDING_REVIEW).count()} pending)"
    )
    http = HttpClient()
    http.force_login(user)
    url = reverse("admin:invoicing_invoicetoreview_changelist")
    assert http.get(url).status_code == 200  # warm-up (templates, caches)
    timings = []
    for _ in range(QUEUE_REQUESTS):
        started = time.perf_counter()
        response = http.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        http.get(url)
    print(
        f"(b) 'À valider' changelist, {Invoice.objects.count()} invoices in the database: median "
        f"{statistics.median(timings):.0f} ms over {QUEUE_REQUESTS} requests (min {min(timings):.0f}, max "
        f"{max(timings):.0f}), {len(ctx.captured_queries)} queries"
    )


def main():
    call_command("migrate", verbosity=0)
    seller()
    user = get_user_model().objects.create_superuser("bench", "bench@example.fr", "bench-password-123")
    bench_approval(user)
    bench_queue(user)


if __name__ == "__main__":
    try:
        main()
    finally:
        connection.close()
        shutil.rmtree(TMP, ignore_errors=True)
