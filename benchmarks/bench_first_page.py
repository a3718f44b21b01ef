"""Benchmark of the owner's first page (``/admin/``) at 10,000 and 100,000 invoices and bank transactions.

Standalone: ``.venv/bin/python benchmarks/bench_first_page.py [--database-url URL] [--runs N]``.

The database is the benchmark's own, never the one the URL names:

- ``postgres://user@host:port/name``: the server is reached through ``name`` and the benchmark creates
  ``<name>_bench_<pid>``, migrated, dropped at the end;
- ``sqlite:///…`` or no URL: a temporary SQLite file.

It loads a firm's books straight into the tables (what is measured is the page, not how the rows got
there): clients, invoices over eight years (paid, open and overdue at every level, partially paid, waiting
for review, drafts, cancelled with their credit notes), bank credits and debits (matched, suggested, without
invoice), recurring contracts, a bank account. Then it signs in a superuser and requests the page: first at
10,000 invoices and 10,000 transactions, then at 100,000 of each. Prints, for each size, the median over
the runs (after one warm-up request), the slowest tile, and the number of queries; exits 1 when the median
at 100,000 is over the 300 ms budget or when the query count grows with the data.
"""

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 300.0
SIZES = (10_000, 100_000)


# -- the database ------------------------------------------------------------------------------------------


class PostgresDatabase:
    label = "PostgreSQL"

    def __init__(self, url: str):
        import psycopg  # installed with the project; imported here so SQLite runs need nothing else

        self.psycopg = psycopg
        self.parts = urlsplit(url)
        self.server_db = self.parts.path.lstrip("/") or "postgres"
        self.name = f"{self.server_db}_bench_{os.getpid()}"
        self._execute(f'CREATE DATABASE "{self.name}"')

    def _execute(self, sql: str) -> None:
        # CREATE/DROP DATABASE cannot run in a transaction: autocommit, on the database the URL names.
        url = urlunsplit(self.parts._replace(path=f"/{self.server_db}"))
        with self.psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)

    @property
    def url(self) -> str:
        return urlunsplit(self.parts._replace(path=f"/{self.name}"))

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class SQLiteDatabase:
    label = "SQLite"

    def __init__(self, tmpdir: str):
        self.url = f"sqlite:///{tmpdir}/bench.sqlite3"

    def drop(self) -> None:
        """The temporary directory goes with the file."""


# -- the books ----------------------------------------------------------------------------------------------


def load(*, invoices: int, transactions: int, offset: int, rng: random.Random) -> None:
    """Add ``invoices`` invoices (and their clients) and ``transactions`` bank transactions."""
    from banking.models import BankAccount, BankTransaction, MatchStatus
    from invoicing.models import Client, Contract, Invoice
    from invoicing.models.contract import Period
    from invoicing.models.invoice import Kind, Origin, Status
    from syaga.core.dates import today

    on = today()
    clients = Client.objects.bulk_create(
        [
            Client(
                name=f"Client {offset + i} SAS",
                normalized_name=f"CLIENT {offset + i}",
                city="Marseille",
                postal_code="13008",
                invoice_emails=f"compta{offset + i}@example.fr",
                auto_approve=i % 3 == 0,
            )
            for i in range(max(invoices // 100, 10))
        ]
    )
    Contract.objects.bulk_create(
        [
            Contract(
                client=client,
                amount_ht=Decimal(rng.choice(["250.00", "400.00", "500.00", "751.60", "1400.00"])),
                period=Period.MONTHLY if index % 4 else Period.QUARTERLY,
                start_date=on - dt.timedelta(days=400),
                next_billing_date=on + dt.timedelta(days=rng.randint(0, 40)),
                auto_approve=index % 2 == 0,
            )
            for index, client in enumerate(clients[: len(clients) // 5])
        ]
    )
    rows = []
    cancelled = []
    for i in range(invoices):
        number = offset + i
        client = rng.choice(clients)
        issue = on - dt.timedelta(days=rng.randint(0, 8 * 365))
        due = issue + dt.timedelta(days=30)
        ht = Decimal(rng.randrange(10_000, 500_000)) / 100
        vat = (ht * Decimal("0.2")).quantize(Decimal("0.01"))
        invoice = Invoice(
            kind=Kind.INVOICE,
            client=client,
            origin=rng.choice([Origin.MANUAL, Origin.RECURRING, Origin.IMPORTED]),
            issue_date=issue,
            due_date=due,
            total_ht=ht,
            total_vat=vat,
            total_ttc=ht + vat,
            subject=f"Prestations {number}",
        )
        draw = rng.random()
        age = (on - issue).days
        if draw < 0.01:
            invoice.status = Status.PENDING_REVIEW
        elif draw < 0.015:
            invoice.status = Status.DRAFT
        else:
            invoice.number, invoice.series = f"B{number:09d}", "B"
            invoice.issued_at = dt.datetime.combine(issue, dt.time(9), tzinfo=dt.UTC)
            open_share = 0.5 if age < 60 else 0.12
            draw = rng.random()
            if draw < open_share:
                invoice.status = rng.choice([Status.ISSUED, Status.SENT])
            elif draw < open_share + 0.02:
                invoice.status = Status.PARTIALLY_PAID
                invoice.amount_paid = (invoice.total_ttc / 2).quantize(Decimal("0.01"))
            elif draw < open_share + 0.04:
                invoice.status = Status.CANCELLED
                cancelled.append(invoice)
            else:
                paid_on = min(due + dt.timedelta(days=rng.randint(-10, 40)), on)
                invoice.status, invoice.amount_paid, invoice.paid_date = (
                    Status.PAID,
                    invoice.total_ttc,
                    paid_on,
                )
        rows.append(invoice)
    Invoice.objects.bulk_create([r for r in rows if r.status != Status.CANCELLED], batch_size=5000)
    # A cancelled invoice points at its credit note: the credit note first.
    notes = Invoice.objects.bulk_create(
        [
            Invoice(
                kind=Kind.CREDIT_NOTE,
                client=invoice.client,
                status=Status.ISSUED,
                number=f"C{offset + index:09d}",
                series="C",
                issue_date=invoice.issue_date + dt.timedelta(days=5),
                due_date=invoice.issue_date + dt.timedelta(days=5),
                total_ht=invoice.total_ht,
                total_vat=invoice.total_vat,
                total_ttc=invoice.total_ttc,
            )
            for index, invoice in enumerate(cancelled)
        ],
        batch_size=5000,
    )
    for invoice, note in zip(cancelled, notes, strict=True):
        invoice.cancelled_by = note
    Invoice.objects.bulk_create(cancelled, batch_size=5000)
    account, _ = BankAccount.objects.get_or_create(
        qonto_id="bench-main", defaults={"name": "Compte principal", "balance": Decimal("48250.00")}
    )
    statuses = [MatchStatus.MATCHED] * 90 + [MatchStatus.SUGGESTED] * 3 + [MatchStatus.UNRECOGNISED] * 7
    BankTransaction.objects.bulk_create(
        [
            BankTransaction(
                qonto_id=f"bench-{offset + i}",
                transaction_id=f"TX{offset + i:09d}",
                account=account,
                amount=Decimal(rng.randrange(1_000, 600_000)) / 100,
                side="credit" if i % 10 < 3 else "debit",
                operation_type="transfer",
                label=f"VIR SEPA CLIENT {rng.randrange(len(clients))}",
                settled_at=dt.datetime.combine(
                    on - dt.timedelta(days=rng.randint(0, 8 * 365)), dt.time(10), tzinfo=dt.UTC
                ),
                match_status=rng.choice(statuses) if i % 10 < 3 else MatchStatus.UNPROCESSED,
            )
            for i in range(transactions)
        ],
        batch_size=5000,
    )


# -- the measure --------------------------------------------------------------------------------------------


def measure(runs: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from syaga.ops import views

    user = get_user_model().objects.filter(
        username="bench"
    ).first() or get_user_model().objects.create_superuser("bench", "", "bench-password-123")
    http = HttpClient()
    http.force_login(user)
    response = http.get("/admin/")  # warm-up: templates compiled, connection open
    assert response.status_code == 200, response.status_code
    assert b"tile-forecast" in response.content
    assert b"tile-revenue" in response.content
    timings, queries = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = http.get("/admin/")
            timings.append((time.perf_counter() - start) * 1000)
        queries.append(len(captured))
    # Each tile on its own, to say where the time goes.
    request = response.wsgi_request
    on = views.timezone.localdate()
    per_tile = {}
    for tile in views.TILES:
        samples = []
        for _ in range(max(3, runs // 2)):
            start = time.perf_counter()
            tile.context(request, on)
            samples.append((time.perf_counter() - start) * 1000)
        per_tile[tile.name] = statistics.median(samples)
    return {"median_ms": statistics.median(timings), "queries": max(queries), "tiles": per_tile}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="postgres://user@host:port/name or sqlite:///…")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3 for a median to mean something")
    url = args.database_url
    with tempfile.TemporaryDirectory(prefix="bench_first_page_") as tmp:
        if url.startswith(("postgres://", "postgresql://")):
            database = PostgresDatabase(url)
        elif not url or url.startswith("sqlite:"):
            database = SQLiteDatabase(tmp)
        else:
            parser.error(f"unsupported database URL {url!r} (sqlite:///… or postgres://…)")
        try:
            return run(database, args.runs)
        finally:
            from django.db import connections

            connections.close_all()
            database.drop()


def run(database, runs: int) -> int:
    os.environ["DATABASE_URL"] = database.url
    os.environ.pop("ALLOWED_HOSTS", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("setup_schedules", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    rng = random.Random(2026)
    results = {}
    loaded = 0
    for size in SIZES:
        start = time.perf_counter()
        load(invoices=size - loaded, transactions=size - loaded, offset=loaded, rng=rng)
        loaded = size
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(f"{size:,} invoices and transactions loaded in {time.perf_counter() - start:.1f} s", flush=True)
        results[size] = measure(runs)
        slowest = sorted(results[size]["tiles"].items(), key=lambda item: -item[1])
        tiles = ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest)
        print(
            f"/admin/ at {size:,} on {database.label}: median of {runs} {results[size]['median_ms']:.0f} ms, "
            f"{results[size]['queries']} queries (tiles alone: {tiles})",
            flush=True,
        )
    small, large = results[SIZES[0]], results[SIZES[-1]]
    over = large["median_ms"] > BUDGET_MS
    grows = large["queries"] > small["queries"]
    print(
        f"first page at {SIZES[-1]:,}: {large['median_ms']:.0f} ms (budget {BUDGET_MS:.0f} ms: "
        f"{'OVER BUDGET' if over else 'OK'}), queries {small['queries']} → {large['queries']} "
        f"({'GROWS WITH THE DATA' if grows else 'constant'})"
    )
    return 1 if over or grows else 0


if __name__ == "__main__":
    sys.exit(main())
