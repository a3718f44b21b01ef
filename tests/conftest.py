import os

import pytest
from django.db import connection

from invoicing.services import delivery
from timetracking.services import coaching


def pytest_collection_modifyitems(config, items):
    """`postgres` tests (real concurrency) run in the PostgreSQL pass of `make test`, never silently."""
    if os.environ.get("TEST_DB_LABEL", "") == "postgres" or "postgres" in os.environ.get("DATABASE_URL", ""):
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: runs in the PostgreSQL pass of `make test`")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _postgres_really_used(request):
    if "postgres" in request.keywords and os.environ.get("REQUIRE_POSTGRES") == "1":
        assert connection.vendor == "postgresql", "REQUIRE_POSTGRES=1 but the suite is not on PostgreSQL"


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # never the PDFs of the machine's own var/invoices (a demo's, a previous run's)
    settings.INVOICE_PDF_DIR = str(tmp_path / "invoices")
    # PBKDF2 costs about a second per user on these machines; tests check behaviour, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _nothing_after_issue(monkeypatch):
    """Tests start with no task registered after the issue (the apps register the PDF, later the e-mail):
    a history reads as the lifecycle writes it, and no issue renders a PDF unless the test asks for it
    (``tests.documents`` registers the PDF task itself)."""
    monkeypatch.setattr(delivery, "_AFTER_ISSUE", {})


@pytest.fixture(autouse=True)
def _no_coaching_sender(monkeypatch):
    """Likewise the top floor wires coaching reminders to the mail app: tests register a sender when they
    test delivery (``tests/ops/test_wiring.py`` tests the wiring itself)."""
    monkeypatch.setattr(coaching, "_senders", [])


@pytest.fixture
def seller(db):
    from tests.factories import SellerProfileFactory

    return SellerProfileFactory()
