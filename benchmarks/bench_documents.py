"""Benchmark of the invoice PDFs: 500 Factur-X PDFs on every core, and their cost against plain WeasyPrint.

Standalone: ``.venv/bin/python benchmarks/bench_documents.py [--invoices N] [--runs N] [--workers N]``.

In a temporary SQLite database and PDF directory (never the project's), it issues ``--invoices`` invoices
through the lifecycle (one to six lines, several VAT rates, hours, days, a discount line), then:

- **per invoice** (one process, ``--sample`` invoices, median): plain WeasyPrint on the invoice's HTML
  (``write_pdf()``, no PDF/A, no XML), against the whole rendering (template, Factur-X XML checked against
  the EN 16931 rules and the XSD, WeasyPrint PDF/A-3b, the XML embedded with its XMP by factur-x);
- **the batch**: ``invoices_pdf_render_pool`` over all of them, one process per core (what ``render_invoices``
  does), files written and their SHA-256 recorded; each run starts from an empty PDF directory.

Prints each figure and the medians; exits 1 when the batch median is over 60 s or the ratio over 3.
"""

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH_BUDGET_SECONDS = 60.0
RATIO_BUDGET = 3.0


def setup_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["INVOICE_PDF_DIR"] = str(workdir / "pdf-0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(count: int) -> list[int]:
    from invoicing.models import Client, SellerProfile
    from invoicing.models.invoice import Unit
    from invoicing.services.invoices import LineSpec, invoice_create
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
        phone="04 91 00 00 00",
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
        for i in range(40)
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
    ids = []
    day = dt.date(2026, 3, 2)
    for i in range(count):
        lines = catalogue[: 1 + i % len(catalogue)]
        invoice = invoice_create(client=clients[i % len(clients)], lines=lines, issue_date=day, submit=True)
        invoice_approve_as_system(invoice=invoice, reason="benchmark", issue_date=day)
        ids.append(invoice.pk)
    return ids


def per_invoice(ids: list[int]) -> tuple[float, float]:
    """Medians (CPU seconds: the machine may be shared) of plain WeasyPrint and of the whole Factur-X
    rendering, in this process."""
    from invoicing.documents.pdf import html_to_pdf, invoice_html, invoice_pdf_render
    from invoicing.models import Invoice

    invoices = list(
        Invoice.objects.filter(pk__in=ids)
        .select_related("client", "credited_invoice")
        .prefetch_related("lines")
    )
    html_to_pdf(invoice_html(invoices[0]), pdf_variant=None)  # warm the fonts once, for both
    plain, full = [], []
    for invoice in invoices:
        html = invoice_html(invoice)
        start = time.process_time()
        html_to_pdf(html, pdf_variant=None)
        plain.append(time.process_time() - start)
        start = time.process_time()
        invoice_pdf_render(invoice)
        full.append(time.process_time() - start)
    return statistics.median(plain), statistics.median(full)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def batch(ids: list[int], workdir: Path, run: int, workers: int | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds the pool's processes used): the CPU figure does not depend on what else
    the machine runs, the wall time does."""
    from django.conf import settings

    from invoicing.documents.pdf import invoices_pdf_render_pool
    from invoicing.models import Invoice

    settings.INVOICE_PDF_DIR = str(workdir / f"pdf-{run}")
    Invoice.objects.filter(pk__in=ids).update(pdf_path="", pdf_sha256="")
    start, cpu = time.perf_counter(), _children_cpu()
    report = invoices_pdf_render_pool(invoice_ids=ids, workers=workers)
    elapsed, cpu = time.perf_counter() - start, _children_cpu() - cpu
    if report.failed or report.written != len(ids):
        raise SystemExit(f"batch run {run}: {report}")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=30, help="invoices timed one by one")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_documents_") as tmp:
        workdir = Path(tmp)
        setup_django(workdir)
        started = time.perf_counter()
        ids = seed(args.invoices)
        print(f"{len(ids)} invoices issued in {time.perf_counter() - started:.1f} s (set-up, not measured)")
        plain, full = per_invoice(ids[: args.sample])
        ratio = full / plain
        print(
            f"per invoice (median of {args.sample}, CPU): plain WeasyPrint {plain * 1000:.0f} ms, "
            f"Factur-X PDF {full * 1000:.0f} ms, ratio {ratio:.2f} (budget {RATIO_BUDGET:.0f}x)"
        )
        timings, cpus = [], []
        for run in range(1, max(args.runs, 1) + 1):
            elapsed, cpu = batch(ids, workdir, run, args.workers)
            timings.append(elapsed)
            cpus.append(cpu)
            print(
                f"run {run}: {len(ids)} PDFs in {elapsed:.1f} s ({len(ids) / elapsed:.1f} PDF/s), "
                f"{cpu * 1000 / len(ids):.0f} ms CPU per PDF in the pool"
            )
    median = statistics.median(timings)
    cores = args.workers or os.cpu_count()
    cpu_per_pdf = statistics.median(cpus) / len(ids)
    print(
        f"median: {len(ids)} PDFs in {median:.1f} s on {cores} process(es) "
        f"(budget {BATCH_BUDGET_SECONDS:.0f} s); {cpu_per_pdf * 1000:.0f} ms CPU per PDF, i.e. "
        f"{500 * cpu_per_pdf / cores:.1f} s for 500 on {cores} idle cores; ratio {ratio:.2f}"
    )
    return 0 if median <= BATCH_BUDGET_SECONDS and ratio <= RATIO_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
