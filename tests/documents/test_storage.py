"""The PDF is written once per issued document, by the worker after the issue, and never rewritten."""

import datetime as dt
import io
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django_q.conf import Conf

from invoicing.apps import PDF_TASK
from invoicing.documents import pdf as pdf_module
from invoicing.documents.pdf import invoice_pdf_ensure, invoices_pdf_render_pool
from invoicing.documents.storage import PdfIntegrityError
from invoicing.models import Invoice
from invoicing.models.invoice import Status
from invoicing.models.validation import EventKind
from invoicing.services.delivery import after_issue_register
from invoicing.services.integrity import file_sha256
from invoicing.services.invoices import LineSpec
from invoicing.services.review import invoices_approve
from tests.documents.conftest import issue
from tests.factories import ClientFactory, UserFactory, make_invoice
from tests.invoicing.test_lifecycle import approver

pytestmark = pytest.mark.django_db


def forfait(amount="100.00", **kwargs):
    return issue(lines=[LineSpec("Forfait infogérance", Decimal(amount))], **kwargs)


@pytest.fixture
def renders(monkeypatch):
    """Counts the renderings (the real ones run)."""
    calls = []
    real = pdf_module.invoice_pdf_render

    def counting(invoice):
        calls.append(invoice.number)
        return real(invoice)

    monkeypatch.setattr(pdf_module, "invoice_pdf_render", counting)
    return calls


def test_the_pdf_is_stored_under_its_year_and_number_with_its_hash(seller, settings):
    invoice = forfait()
    path = invoice_pdf_ensure(invoice)
    assert path == Path(settings.INVOICE_PDF_DIR) / "2026" / f"{invoice.number}.pdf"
    stored = Invoice.objects.get(pk=invoice.pk)
    assert stored.pdf_path == f"2026/{invoice.number}.pdf"
    assert stored.pdf_sha256 == file_sha256(path)
    assert path.read_bytes().startswith(b"%PDF-")
    # and the year's folder holds the PDF alone (its lock lives apart, under .locks/)
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_asking_again_returns_the_same_file_without_rendering(seller, renders):
    invoice = forfait()
    first = invoice_pdf_ensure(invoice)
    content = first.read_bytes()
    second = invoice_pdf_ensure(Invoice.objects.get(pk=invoice.pk))
    assert second == first
    assert second.read_bytes() == content
    assert renders == [invoice.number]


@pytest.mark.django_db(transaction=True)
def test_two_workers_asking_at_once_render_it_once(seller, renders):
    # given: an issued invoice, committed, and two threads (two connections) asking for its PDF together
    invoice = forfait()
    start = threading.Barrier(2)
    paths, errors = [], []

    def worker():
        try:
            start.wait()
            paths.append(invoice_pdf_ensure(Invoice.objects.get(pk=invoice.pk)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one rendering, one file, both got it
    assert errors == []
    assert renders == [invoice.number]
    assert paths[0] == paths[1]


def test_an_edited_pdf_is_refused_and_never_rewritten(seller):
    invoice = forfait()
    path = invoice_pdf_ensure(invoice)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"%% incremental update\n")
    with pytest.raises(PdfIntegrityError, match="modifié"):
        invoice_pdf_ensure(invoice)
    assert path.read_bytes().endswith(b"%% incremental update\n")


def test_a_recorded_pdf_that_disappeared_is_not_silently_made_again(seller, renders):
    invoice = forfait()
    path = invoice_pdf_ensure(invoice)
    path.unlink()
    with pytest.raises(PdfIntegrityError, match="sauvegarde"):
        invoice_pdf_ensure(invoice)
    assert not path.exists()
    assert renders == [invoice.number]


def test_a_draft_has_no_pdf(seller):
    draft = make_invoice(client=ClientFactory())
    with pytest.raises(Exception, match="émise"):
        invoice_pdf_ensure(draft)


# --- after the issue -----------------------------------------------------------------------------------


def test_approving_queues_the_pdf_after_commit_and_the_worker_writes_it(
    seller, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the PDF task registered as the app does, django-q running tasks inline
    monkeypatch.setattr(Conf, "SYNC", True)
    after_issue_register(task=PDF_TASK, label="PDF")
    invoices = [
        Invoice.objects.get(pk=make_invoice(client=ClientFactory(), status=Status.PENDING_REVIEW).pk)
        for _ in range(3)
    ]
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invoices_approve(invoices=invoices, user=approver())
        # then: nothing is rendered while the issuing transaction is open
        assert not Invoice.objects.exclude(pdf_sha256="").exists()
    for callback in callbacks:
        callback()
    # then: each issued invoice has its PDF, and its history says it was scheduled
    for invoice in Invoice.objects.filter(pk__in=[i.pk for i in invoices]):
        assert invoice.pdf_sha256
        assert invoice.events.filter(kind=EventKind.DELIVERY_QUEUED, reason="programmé : PDF").exists()


def test_a_large_batch_is_shared_between_the_workers(seller, monkeypatch):
    # given: more invoices than one task renders
    monkeypatch.setattr(pdf_module, "TASK_CHUNK", 2)
    queued = []
    monkeypatch.setattr(
        pdf_module, "async_task", lambda *args, **kwargs: queued.append(kwargs["invoice_ids"])
    )
    ids = [forfait().pk for _ in range(5)]
    # when
    report = pdf_module.invoices_pdf_ensure(invoice_ids=ids)
    # then: the first chunk rendered here, the rest queued for the other workers
    assert report.written == 2
    assert queued == [ids[2:4], ids[4:]]


# --- render_invoices -----------------------------------------------------------------------------------


def test_render_invoices_writes_the_missing_ones_with_a_progress_bar(seller):
    # given: three issued invoices, one already with its PDF
    first, second, third = forfait(), forfait(), forfait()
    invoice_pdf_ensure(first)
    out = io.StringIO()
    # when
    call_command("render_invoices", workers=1, stdout=out)
    # then
    text = out.getvalue()
    assert "2 PDF à écrire" in text
    assert "[##############################] 2/2" in text
    assert "2 PDF écrits." in text
    assert all(Invoice.objects.filter(pk__in=[second.pk, third.pk]).values_list("pdf_sha256", flat=True))


def test_render_invoices_by_number_and_year(seller):
    old = forfait(issue_date=dt.date(2025, 12, 1))
    new = forfait()
    call_command("render_invoices", number=new.number, workers=1, stdout=io.StringIO())
    assert Invoice.objects.get(pk=new.pk).pdf_sha256
    assert not Invoice.objects.get(pk=old.pk).pdf_sha256
    call_command("render_invoices", year=2025, workers=1, stdout=io.StringIO())
    assert Invoice.objects.get(pk=old.pk).pdf_sha256
    out = io.StringIO()
    call_command("render_invoices", workers=1, stdout=out)
    assert "Aucun PDF manquant." in out.getvalue()
    with pytest.raises(CommandError, match="F20269999"):
        call_command("render_invoices", number="F20269999", workers=1, stdout=io.StringIO())


def test_render_invoices_reports_a_lost_file_and_fails(seller):
    invoice = forfait()
    invoice_pdf_ensure(invoice).unlink()
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 en échec"):
        call_command("render_invoices", workers=1, stdout=io.StringIO(), stderr=err)
    assert "sauvegarde" in err.getvalue()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_process_pool_renders_on_every_core(seller):
    ids = [forfait().pk for _ in range(4)]
    report = invoices_pdf_render_pool(invoice_ids=ids, workers=2)
    assert (report.written, report.failed) == (4, [])
    assert Invoice.objects.filter(pk__in=ids).exclude(pdf_sha256="").count() == 4


# --- the invoice page -----------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    user = UserFactory(username="compta")
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_invoice", "change_invoice"]))
    client.force_login(user)
    return client


def test_the_invoice_page_offers_download_and_print_once_the_pdf_exists(seller, staff_client):
    invoice = forfait()
    page = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    assert "PDF en préparation" in staff_client.get(page).content.decode()
    invoice_pdf_ensure(invoice)
    html = staff_client.get(page).content.decode()
    url = reverse("invoicing:invoice-pdf", args=[invoice.pk])
    assert f'href="{url}">Télécharger le PDF</a>' in html
    assert f'href="{url}?inline=1" target="_blank" rel="noopener">Imprimer</a>' in html


def test_the_pdf_downloads_as_an_attachment_or_opens_to_print(seller, staff_client):
    invoice = forfait()
    url = reverse("invoicing:invoice-pdf", args=[invoice.pk])
    download = staff_client.get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == f'attachment; filename="Facture-{invoice.number}.pdf"'
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    assert staff_client.get(url + "?inline=1")["Content-Disposition"].startswith("inline")


def test_a_tampered_pdf_is_not_handed_out(seller, staff_client):
    invoice = forfait()
    path = invoice_pdf_ensure(invoice)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"%tampered")
    response = staff_client.get(reverse("invoicing:invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 409
    assert "modifié" in response.content.decode()


def test_without_the_permission_no_pdf(seller, client):
    client.force_login(UserFactory(username="stagiaire"))
    invoice = forfait()
    assert client.get(reverse("invoicing:invoice-pdf", args=[invoice.pk])).status_code == 403
