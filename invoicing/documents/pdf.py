"""The PDF of an issued invoice or credit note: WeasyPrint (PDF/A-3b) + the Factur-X XML, stored once.

:func:`invoice_pdf_render` turns a document into bytes: the HTML template ``invoicing/pdf/invoice.html``
rendered by WeasyPrint as PDF/A-3b, then the CII XML embedded as ``factur-x.xml`` (relationship Data) with the
Factur-X XMP metadata by the ``factur-x`` library. :func:`invoice_pdf_ensure` is what the rest of the project
calls (the worker after the issue, ``render_invoices``, the download view, the e-mail): it returns the stored
file, writing it first when missing, exactly once, and refuses a file that is not the one written then.
"""

import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.template.loader import render_to_string
from django_q.tasks import async_task

from invoicing.documents.context import invoice_document_context
from invoicing.documents.facturx import PROFILE, FacturXError, invoice_facturx_xml
from invoicing.documents.storage import (
    PdfIntegrityError,
    pdf_lock,
    pdf_relative_path,
    pdf_root,
    pdf_write_once,
)
from invoicing.models import Invoice
from invoicing.models.invoice import FROZEN_STATUSES
from invoicing.services.integrity import file_sha256
from syaga.core.errors import BusinessError
from syaga.core.lazy import lazy_module

facturx = lazy_module("facturx")
weasyprint = lazy_module("weasyprint")
weasyprint_ffi = lazy_module("weasyprint.text.ffi")

logger = logging.getLogger(__name__)
TEMPLATE = "invoicing/pdf/invoice.html"
PDF_TASK = "invoicing.tasks.invoices_pdf_render"


def fast_font_subsetting() -> bool:
    """Whether WeasyPrint subsets fonts with HarfBuzz (Debian's libharfbuzz-subset0); without it every PDF
    is about six times slower (fontTools in Python). For the health check to warn about."""
    return weasyprint_ffi.harfbuzz_subset is not None


def invoice_html(invoice: Invoice) -> str:
    return render_to_string(TEMPLATE, invoice_document_context(invoice))


def html_to_pdf(html: str, *, pdf_variant: str | None = "pdf/a-3b") -> bytes:
    """WeasyPrint, fonts from the system (DejaVu); nothing fetched from the network."""
    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(pdf_variant=pdf_variant)


def invoice_pdf_render(invoice: Invoice) -> bytes:
    """The Factur-X PDF of an issued document. Raises FacturXError when its XML breaks a rule."""
    xml = invoice_facturx_xml(invoice)  # checked first: no PDF is made for a document a platform would refuse
    visual = html_to_pdf(invoice_html(invoice))
    seller = (invoice.seller_snapshot or {}).get("legal_name", "")
    title = f"{'Avoir' if invoice.kind == 'credit_note' else 'Facture'} {invoice.number}"
    return facturx.generate_from_binary(
        visual,
        xml,
        flavor="factur-x",
        level=PROFILE,
        check_xsd=False,  # invoice_facturx_xml has just checked it
        pdf_metadata={
            "author": seller,
            "keywords": "Factur-X, facture",
            "title": f"{seller} : {title}",
            "subject": f"{title} du {invoice.issue_date:%d/%m/%Y} émise par {seller}",
        },
        lang="fr-FR",
        afrelationship="data",
    )


def _load(invoice_id: int) -> Invoice:
    return (
        Invoice.objects.select_related("client", "credited_invoice")
        .prefetch_related("lines")
        .get(pk=invoice_id)
    )


def invoice_pdf_ensure(invoice: Invoice) -> Path:
    """The stored PDF of an issued document, rendered and stored first if missing.

    Exactly once, even when two workers ask at the same moment (a lock per document); an existing file is
    never rewritten. Raises PdfIntegrityError when the file on disk is not the one whose SHA-256 was
    recorded, or when a recorded file has disappeared (a new rendering would not be the same document:
    restore it from the backup).
    """
    relative = pdf_relative_path(invoice)
    path = pdf_root() / relative
    with pdf_lock(relative):
        current = _load(invoice.pk)
        if current.status not in FROZEN_STATUSES:
            raise BusinessError(f"{current} n'est pas émise : pas de PDF")
        if path.is_file():
            digest = file_sha256(path)
            if not current.pdf_sha256:
                # Written by a worker that stopped before recording it: the file is ours (atomic link).
                _record(current, relative, digest)
            elif digest != current.pdf_sha256:
                raise PdfIntegrityError(f"{current} : le PDF {path} a été modifié depuis son écriture")
        elif current.pdf_sha256:
            raise PdfIntegrityError(
                f"{current} : le PDF enregistré ({path}) a disparu ; restaurez-le depuis la sauvegarde "
                "(un nouveau rendu ne serait pas le document remis au client)"
            )
        else:
            pdf_write_once(relative, invoice_pdf_render(current))
            _record(current, relative, file_sha256(path))
    invoice.pdf_path, invoice.pdf_sha256 = current.pdf_path, current.pdf_sha256
    return path


def _record(invoice: Invoice, relative: str, digest: str) -> None:
    written = Invoice.objects.filter(pk=invoice.pk, pdf_sha256="").update(
        pdf_path=relative, pdf_sha256=digest
    )
    if not written:
        raise PdfIntegrityError(f"{invoice} : une autre empreinte de PDF est déjà enregistrée")
    invoice.pdf_path, invoice.pdf_sha256 = relative, digest
    logger.debug("PDF %s écrit (%s)", relative, digest[:12])


def invoice_pdf_path(invoice: Invoice) -> Path | None:
    """The stored PDF if it exists (no rendering): what the admin links to."""
    if not invoice.pdf_path:
        return None
    path = pdf_root() / invoice.pdf_path
    return path if path.is_file() else None


# A batch from the worker is split so that every django-q worker (one a core) renders part of it.
TASK_CHUNK = 20


@dataclass
class PdfBatchReport:
    written: int = 0
    queued_chunks: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def __str__(self):
        text = f"{self.written} PDF prêts"
        if self.queued_chunks:
            text += f", {self.queued_chunks} lots confiés aux autres workers"
        if self.failed:
            text += f", {len(self.failed)} en échec : " + " ; ".join(reason for _, reason in self.failed)
        return text


def invoices_pdf_ensure(*, invoice_ids: list[int], split: bool = True) -> PdfBatchReport:
    """Ensure the PDF of each document; with ``split``, a batch larger than TASK_CHUNK keeps its first chunk
    and queues the others as tasks of their own (so the cluster's workers share it).

    Every document is tried; a failure (a rule broken, a tampered file) is reported, then raised once all
    are done so that the task is marked failed and retried (done ones are kept: ensure is idempotent).
    """
    ids = list(dict.fromkeys(invoice_ids))
    report = PdfBatchReport()
    if split and len(ids) > TASK_CHUNK:
        for start in range(TASK_CHUNK, len(ids), TASK_CHUNK):
            chunk = ids[start : start + TASK_CHUNK]
            async_task(PDF_TASK, invoice_ids=chunk, task_name=f"PDF ({len(chunk)} documents)")
            report.queued_chunks += 1
        ids = ids[:TASK_CHUNK]
    for invoice in Invoice.objects.filter(pk__in=ids).order_by("pk"):
        try:
            invoice_pdf_ensure(invoice)
            report.written += 1
        except (BusinessError, FacturXError) as exc:
            report.failed.append((invoice.pk, str(exc)))
            logger.error("PDF de %s : %s", invoice, exc)
    if report.failed:
        raise PdfBatchError(str(report))
    # One document a task after each issue: the count is the task's result (admin, django-q2), not a log line.
    logger.debug("PDF : %s", report)
    return report


class PdfBatchError(BusinessError):
    """Some PDFs of a batch could not be written (each named)."""


# --- many at once, on every core ---------------------------------------------------------------------


def invoices_missing_pdf(*, number: str | None = None, year: int | None = None) -> list[int]:
    """Issued documents whose PDF is not stored (never written, or its file is gone), in number order."""
    rows = Invoice.objects.filter(status__in=FROZEN_STATUSES)
    if number:
        rows = rows.filter(number=number)
    if year:
        rows = rows.filter(issue_date__year=year)
    root = pdf_root()
    return [
        pk
        for pk, path, digest in rows.order_by("series", "number").values_list("pk", "pdf_path", "pdf_sha256")
        if not digest or not (root / path).is_file()
    ]


def _ensure_one(invoice_id: int) -> tuple[int, str]:
    """In a pool process: (id, "" or the reason it failed)."""
    return _ensure_in_process(invoice_id)


def _pool_start() -> None:
    connections.close_all()  # a forked process must open its own database connection


def invoices_pdf_render_pool(
    *, invoice_ids: list[int], workers: int | None = None, progress: Callable[[int, int], None] | None = None
) -> PdfBatchReport:
    """Ensure each document's PDF with one process per core (WeasyPrint is CPU-bound); ``progress(done,
    total)`` after each. ``workers=1`` renders in this process (and this transaction)."""
    workers = workers or os.cpu_count() or 1
    report = PdfBatchReport()
    total = len(invoice_ids)
    if workers == 1 or total <= 1:
        outcomes = map(_ensure_in_process, invoice_ids)
    else:
        connections.close_all()
        context = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_pool_start)
        outcomes = pool.map(_ensure_one, invoice_ids, chunksize=4)
    try:
        for done, (invoice_id, failure) in enumerate(outcomes, start=1):
            if failure:
                report.failed.append((invoice_id, failure))
            else:
                report.written += 1
            if progress:
                progress(done, total)
    finally:
        if workers > 1 and total > 1:
            pool.shutdown()
    return report


def _ensure_in_process(invoice_id: int) -> tuple[int, str]:
    try:
        invoice_pdf_ensure(Invoice.objects.get(pk=invoice_id))
    except (BusinessError, FacturXError, Invoice.DoesNotExist) as exc:
        return invoice_id, str(exc)
    return invoice_id, ""
