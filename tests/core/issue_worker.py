"""A separate OS process that issues invoices, for the two-writer tests (tests/core/test_two_writers.py).

``python -m tests.core.issue_worker seed`` creates the seller and one client and prints the client's id;
``python -m tests.core.issue_worker issue CLIENT_ID COUNT BARRIER_DIR NAME`` waits until every worker
announced itself in BARRIER_DIR, then creates and approves (so issues) COUNT invoices, one transaction
each, as the web server and the django-q2 worker do. It prints a JSON report: the numbers issued and
each error's text.
The database is the one ``DATABASE_URL`` names, read by the project's own settings.
"""

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
django.setup()

from invoicing.models import Client  # noqa: E402 (Django must be set up first)
from invoicing.services.invoices import LineSpec, invoice_create  # noqa: E402
from invoicing.services.lifecycle import invoice_approve_as_system  # noqa: E402
from tests.factories import ClientFactory, SellerProfileFactory  # noqa: E402

BARRIER_TIMEOUT = 60


def seed() -> None:
    SellerProfileFactory()
    print(ClientFactory(name="Deux Processus SAS").pk)


def wait_for_everyone(barrier: Path, name: str, expected: int) -> None:
    (barrier / f"ready-{name}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while len(list(barrier.glob("ready-*"))) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: the other workers never started")
        time.sleep(0.005)


def issue(client_id: int, count: int, barrier: Path, name: str, expected: int) -> None:
    client = Client.objects.get(pk=client_id)
    wait_for_everyone(barrier, name, expected)
    numbers, errors = [], []
    for i in range(count):
        try:
            draft = invoice_create(
                client=client,
                lines=[LineSpec(description=f"{name} #{i}", unit_price=Decimal("100.00"))],
                submit=True,
            )
            numbers.append(invoice_approve_as_system(invoice=draft, reason="deux processus").number)
        except Exception as exc:  # every failure is what the test reports, whatever its kind
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"numbers": numbers, "errors": errors}))


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        seed()
    else:
        _, _, client_id, count, barrier, name, expected = sys.argv
        issue(int(client_id), int(count), Path(barrier), name, int(expected))
