"""Where an issued document's PDF lives, and how it is written: once, atomically, never over another.

``settings.INVOICE_PDF_DIR/<year>/<number>.pdf``. A file is written under a temporary name in the same
directory, flushed to disk, then hard-linked to its final name (``os.link`` fails when the name exists:
an existing file is never replaced), and its SHA-256 is recorded on the invoice only where none is recorded
yet. An exclusive lock per document (``fcntl.flock`` on a lock file kept apart, under ``.locks/``, so that the
archive's year folders hold the PDFs only) makes two workers that ask for the same PDF at the same moment
render it once: the second waits, then finds the file.
"""

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

from django.conf import settings

from invoicing.models import Invoice
from syaga.core.errors import BusinessError


class PdfIntegrityError(BusinessError):
    """The stored PDF is not the one written at the time (edited, replaced or lost)."""


LOCKS_DIR = ".locks"


def pdf_root() -> Path:
    return Path(settings.INVOICE_PDF_DIR)


def pdf_relative_path(invoice: Invoice) -> str:
    if not invoice.number or invoice.issue_date is None:
        raise BusinessError(f"{invoice} n'est pas émise : pas de PDF")
    return f"{invoice.issue_date.year}/{invoice.number}.pdf"


@contextlib.contextmanager
def pdf_lock(relative: str):
    """Hold the document's lock file (``.locks/<year>/<number>.pdf.lock``) for the duration of the block."""
    lock_path = pdf_root() / LOCKS_DIR / f"{relative}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pdf_write_once(relative: str, content: bytes) -> Path:
    """Write ``content`` at ``relative`` unless a file is already there (then FileExistsError)."""
    path = pdf_root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".writing-", suffix=".pdf", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o444)
        os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path
