"""Benchmark of the three-way reconciliation: 10,000 documents, their real PDFs and their Oxygène export.

Standalone: ``.venv/bin/python benchmarks/bench_reconcile.py [--invoices N] [--runs N] [--workers N]
[--cache DIR] [--fresh]``.

Making the data is slow (about 6 minutes to issue 10,000 documents, then 15 minutes of both cores for their
Factur-X PDFs), so it is made once into a cache folder under the system's temporary directory
(``syaga_bench_reconcile_<N>``: a SQLite database, the PDFs, the export) and reused by the next runs;
``--fresh`` makes it again. The data: documents issued through the lifecycle over 2025 and 2026 (one to six
lines, several VAT rates, hours, days, a discount), one credit note every twenty invoices, each PDF rendered
by the project's renderer on every core (``invoices_pdf_render_pool``), and the project's own Oxygène CSV of
the two years.

What is timed is ``reconcile(oxygen_path=…, pdf_dir=…)`` alone (read the export, read every PDF's first
page on every core, compare, store the report), ``--runs`` times; prints each run and the median, and exits
1 when the median is over 60 s or when the report finds any discrepancy (the data is consistent).
"""

import argparse
import datetime as dt
import logging
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 60.0
CREDIT_NOTE_EVERY = 20


def setup_django(cache: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{cache / 'bench.sqlite3'}"
    os.environ["INVOICE_PDF_DIR"] = str(cache / "invoices")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # one INFO line per PDF written, and per PDF task queued after each issue, would drown the figures
    logging.getLogger("invoicing.documents.pdf").setLevel(logging.WARNING)
    logging.getLogger("django-q").setLevel(logging.WARNING)


def seed(count: int) -> list[int]:
    """``count`` documents issued through the lifecycle, in date order; returns their ids."""
    from invoicing.models import Client, SellerProfile
    from invoicing.models.invoice import Unit
    from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create
    from invoicing.services.lifecycle import invoice_approve_as_system

    SellerProfile.objects.create(
        legal_name="SYAGA Consulting",
        legal_form="SAS",
        share_capital=Decimal("10000.00"),
        rcs_city="Marseille",
        siren="732829320",
        siret="73282932000074",
        vat_number="FR44732829320",
        address_line1="12 rue de la République",
        postal_code="13001",
        city="Marseille",
        email="facturation@syaga.fr",
        iban="FR7630006000011234567890189",
        bic="AGRIFRPPXXX",
    )
    clients = [
        Client.objects.create(
            name=f"Client {i} SAS",
            siren="542051180",
            vat_number="FR59542051180",
            address_line1=f"{i} avenue du Prado",
            postal_code="13008",
            city="Marseille",
            invoice_emails=f"compta{i}@example.fr",
        )
        for i in range(60)
    ]
    catalogue = [
        LineSpec("Forfait infogérance mensuel", Decimal("1400.00"), unit=Unit.MONTH),
        LineSpec("Intervention sur site", Decimal("110.00"), quantity=Decimal("7.5"), unit=Unit.HOUR),
        LineSpec("Audit de sécurité", Decimal("650.00"), quantity=Decimal("2"), unit=Unit.DAY),
        LineSpec("Remise fidélité", Decimal("-150.00")),
        LineSpec(
            "Documentation technique", Decimal("45.33"), quantity=Decimal("3"), vat_rate=Decimal("5.50")
        ),
        LineSpec("Transport de matériel", Decimal("80.07"), vat_rate=Decimal("10.00")),
    ]
    start, days = dt.date(2025, 1, 2), 640
    ids = []
    for i in range(count):
        day = start + dt.timedelta(days=i * days // count)
        lines = catalogue[: 1 + i % len(catalogue)]
        invoice = invoice_create(client=clients[i % len(clients)], lines=lines, issue_date=day, submit=True)
        invoice_approve_as_system(invoice=invoice, reason="benchmark", issue_date=day)
        ids.append(invoice.pk)
        if len(ids) >= count:
            break
        if i % CREDIT_NOTE_EVERY == CREDIT_NOTE_EVERY - 1:
            # issued today (credit_note_create's date): a credit note of its own year and series
            note = credit_note_create(
                invoice=invoice, reason="geste commercial", lines=[LineSpec("Remise", Decimal("50.00"))]
            )
            ids.append(note.pk)
        if i % 1000 == 999:
            print(f"  … {len(ids)} documents issued", flush=True)
    return ids[:count]


def build(cache: Path, count: int, workers: int | None) -> None:
    from invoicing.documents.pdf import invoices_pdf_render_pool
    from reconciliation.exports.oxygen import oxygen_csv
    from reconciliation.exports.sales import sales_documents

    started = time.perf_counter()
    ids = seed(count)
    print(f"{len(ids)} documents issued in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    step = max(1, len(ids) // 20)

    def progress(done, total):
        if done % step == 0 or done == total:
            print(f"  … {done}/{total} PDFs ({time.perf_counter() - started:.0f} s)", flush=True)

    report = invoices_pdf_render_pool(invoice_ids=ids, workers=workers, progress=progress)
    if report.failed:
        raise SystemExit(f"rendering: {report}")
    print(f"{report.written} PDFs rendered in {time.perf_counter() - started:.0f} s", flush=True)
    documents = sales_documents(date_from=dt.date(2000, 1, 1), date_to=dt.date(2100, 12, 31))
    (cache / "ventes.csv").write_bytes(oxygen_csv(documents))
    (cache / "ready").write_text(f"{count}\n")


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the pool's processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000, help="documents (invoices and credit notes)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--cache", type=Path, default=None, help="data folder (default: in the temp dir)")
    parser.add_argument("--fresh", action="store_true", help="make the data again")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.gettempdir()) / f"syaga_bench_reconcile_{args.invoices}"
    if args.fresh or not (cache / "ready").is_file():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        print(f"making the data in {cache} (once; later runs reuse it)", flush=True)
        setup_django(cache)
        build(cache, args.invoices, args.workers)
    else:
        print(f"data reused from {cache} (--fresh to make it again)", flush=True)
        setup_django(cache)

    from reconciliation.models import ReconciliationReport
    from reconciliation.services import reconcile

    timings = []
    for run in range(1, max(args.runs, 1) + 1):
        start, cpu = time.perf_counter(), _cpu()
        report = reconcile(oxygen_path=cache / "ventes.csv", pdf_dir=cache / "invoices", workers=args.workers)
        elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
        timings.append(elapsed)
        print(
            f"run {run}: {report.documents} documents, {report.pdf_files} PDFs, {report.oxygen_lines} export "
            f"lines reconciled in {elapsed:.1f} s ({cpu:.1f} s CPU over all its processes); "
            f"{report.summary()}",
            flush=True,
        )
        if report.discrepancy_count:
            for discrepancy in report.discrepancies.all()[:10]:
                print(f"  {discrepancy.reason}")
            return 1
    ReconciliationReport.objects.all().delete()
    median = statistics.median(timings)
    cores = args.workers or os.cpu_count()
    print(
        f"median: {median:.1f} s for {args.invoices} documents and their PDFs on {cores} process(es) "
        f"(budget {BUDGET_SECONDS:.0f} s)"
    )
    return 0 if median <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
