"""Benchmark of the owner's first page (``/admin/``) at 10,000 and 100,000 invoices and bank transactions.

Standalone: ``.venv/bin/python benchmarks/bench_first_page.py [--database-url URL] [--runs N] [--keep]``.

The database is the benchmark's own, never the one the URL names:

- ``postgres://user@host:port/name``: the server is reached through ``name`` and the benchmark creates
  ``<name>_bench_<pid>``, migrated, dropped at the end;
- ``sqlite:///…`` or no URL: a temporary SQLite file.

It loads a firm's books straight into the tables (what is measured is the page, not how the rows got
there): clients, invoices over eight years (paid, open and overdue at every level, partially paid, waiting
for review, drafts, cancelled with their credit notes; e-mailed, with their approval in the history, by a
rule or a person; recurring ones with their service period), bank credits and debits (matched, suggested,
without invoice), recurring contracts (some behind), a bank account; and what the later tiles read: as
many time entries as invoices (five consultants, today's included, FACTURABLE time billed or not), as many
client replies (some disputes, open at every urgency) and about as many sent e-mails (invoices and
reminders), and as many cycle steps (five a run). Then it signs in a superuser and requests the page: first
at 10,000 of each, then at 100,000. Prints, for each size, the median over the runs (after one warm-up
request), each tile's time, and the number of queries; exits 1 when the median at 100,000 is over the
300 ms budget or when the query count grows with the data.
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
    """Add ``invoices`` invoices (and their clients) and ``transactions`` bank transactions, then as many
    time entries, client replies and cycle steps (see the module's docstring)."""
    from banking.models import BankAccount, BankTransaction, MatchStatus
    from invoicing.models import Client, Contract, Invoice
    from invoicing.models.contract import Period
    from invoicing.models.invoice import Kind, Origin, Status
    from syaga.core.dates import end_of_month, today

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
                # one in fifty behind (a forgotten period for the indicators to find)
                next_billing_date=on
                + dt.timedelta(days=rng.randint(-5, -1) if index % 50 == 0 else rng.randint(0, 40)),
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
        if invoice.origin == Origin.RECURRING:
            invoice.period_start, invoice.period_end = issue.replace(day=1), end_of_month(issue)
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
                # an open dispute on one overdue invoice in a hundred, at every urgency
                if age > 45 and rng.random() < 0.01:
                    invoice.disputed_since = invoice.issued_at + dt.timedelta(days=40)
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
    for invoice in rows:
        if invoice.status in (Status.SENT, Status.PARTIALLY_PAID, Status.PAID):
            invoice.sent_at = invoice.issued_at + dt.timedelta(hours=1)
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
    issued = [r for r in rows if r.number]
    load_history(issued, rng=rng)
    load_mail(issued, clients=clients, offset=offset, count=invoices, rng=rng)
    load_time(clients, offset=offset, count=invoices, rng=rng, on=on)
    load_cycles(offset=offset, count=invoices, on=on)


def load_history(issued, *, rng: random.Random) -> None:
    """Each issued invoice's approval (by a rule for two in three, else by a person), issue and first
    e-mail, as the lifecycle writes them."""
    from invoicing.models import InvoiceEvent
    from invoicing.models.validation import EventKind

    events = []
    for invoice in issued:
        kind = EventKind.AUTO_APPROVED if rng.random() < 0.67 else EventKind.APPROVED
        events.append(InvoiceEvent(invoice=invoice, at=invoice.issued_at, kind=kind, to_status="approved"))
        events.append(
            InvoiceEvent(invoice=invoice, at=invoice.issued_at, kind=EventKind.ISSUED, to_status="issued")
        )
        if invoice.sent_at:
            events.append(
                InvoiceEvent(invoice=invoice, at=invoice.sent_at, kind=EventKind.SENT, to_status="sent")
            )
    InvoiceEvent.objects.bulk_create(events, batch_size=5000)


def load_mail(issued, *, clients, offset: int, count: int, rng: random.Random) -> None:
    """``count`` client replies over eight years, each about an invoice; the invoices e-mailed (one message
    each) and some reminders; a dispute for each invoice flagged as disputed, open, at every urgency."""
    from mailbox.models import Dispute, InboundMessage, OutboundMessage, OutboundStatus, Purpose

    now = dt.datetime.now(dt.UTC)
    sent = [invoice for invoice in issued if invoice.sent_at]
    outbound = [
        OutboundMessage(
            invoice=invoice,
            purpose=Purpose.INVOICE,
            dedupe_key=f"invoice:{invoice.pk}:send",
            message_id=f"<invoice-{invoice.number}.1@bench>",
            to=f"compta{invoice.client_id}@example.fr",
            subject=f"Facture {invoice.number}",
            body="Veuillez trouver ci-joint notre facture.",
            state=OutboundStatus.SENT,
            sent_at=invoice.sent_at,
            created_at=invoice.sent_at,
        )
        for invoice in sent
    ]
    late = [invoice for invoice in sent if invoice.paid_date is None and invoice.due_date < now.date()]
    for invoice in late[: len(late) // 3]:
        outbound.append(
            OutboundMessage(
                invoice=invoice,
                purpose=Purpose.REMINDER,
                level=1,
                dedupe_key=f"invoice:{invoice.pk}:reminder:1",
                message_id=f"<invoice-{invoice.number}.2@bench>",
                to=f"compta{invoice.client_id}@example.fr",
                subject=f"Relance facture {invoice.number}",
                body="Sauf erreur de notre part…",
                state=OutboundStatus.SENT,
                sent_at=now,
                created_at=now,
            )
        )
    OutboundMessage.objects.bulk_create(outbound, batch_size=5000)
    categories = ["ack"] * 50 + ["question"] * 15 + ["payment"] * 15 + ["delay"] * 5 + ["auto_reply"] * 10
    categories += ["dispute"] * 5
    received = InboundMessage._meta.get_field("received_at")
    received.auto_now_add = False  # the replies' own dates, not the moment they are loaded
    try:
        replies = []
        for i in range(count):
            invoice = rng.choice(sent)
            replies.append(
                InboundMessage(
                    message_id=f"<reply-{offset + i}@bench>",
                    from_email=f"compta{invoice.client_id}@example.fr",
                    subject=f"RE: Facture {invoice.number}",
                    received_at=now - dt.timedelta(minutes=rng.randint(0, 8 * 365 * 24 * 60)),
                    text="Bien reçu, merci.",
                    invoice=invoice,
                    client_id=invoice.client_id,
                    link_method="thread",
                    category=rng.choice(categories),
                )
            )
        InboundMessage.objects.bulk_create(replies, batch_size=5000)
    finally:
        received.auto_now_add = True
    disputed = [invoice for invoice in issued if invoice.disputed_since]
    Dispute.objects.bulk_create(
        [
            Dispute(
                invoice=invoice,
                client_id=invoice.client_id,
                urgency=1 + index % 5,
                amount_at_stake=invoice.total_ttc,
                opened_at=invoice.disputed_since,
                summary="Le client conteste le montant.",
            )
            for index, invoice in enumerate(disputed)
        ],
        batch_size=5000,
    )


def load_time(clients, *, offset: int, count: int, rng: random.Random, on: dt.date) -> None:
    """``count`` time entries of five consultants over eight years (forty of them today, whatever the size:
    a day does not grow with the history); FACTURABLE time of closed months billed, except a few entries
    of the last weeks."""
    from invoicing.models import Invoice
    from invoicing.models.invoice import Kind, Origin, Status
    from timetracking.models import Category, Consultant, Source, TimeEntry

    consultants = list(Consultant.objects.filter(name__startswith="Consultant "))
    if not consultants:
        consultants = Consultant.objects.bulk_create(
            [Consultant(name=f"Consultant {n}", email=f"c{n}@syaga.fr") for n in range(5)]
        )
    # The time sheets' invoices the billed entries point at (already among the books' invoices).
    timesheet = Invoice.objects.filter(kind=Kind.INVOICE, status=Status.PAID, origin=Origin.MANUAL).first()
    this_month = on.replace(day=1)
    categories = [Category.FACTURABLE] * 3 + [Category.FORFAIT] * 5 + [Category.INTERNE] * 2
    tz = dt.timezone(dt.timedelta(hours=1))
    entries = []
    for i in range(count):
        # today's forty (five people's day), the others spread over eight years
        day = on if offset == 0 and i < 40 else on - dt.timedelta(days=rng.randint(1, 8 * 365))
        start = dt.datetime.combine(day, dt.time(rng.randint(0, 9), rng.choice([0, 15, 30, 45])), tzinfo=tz)
        seconds = rng.choice([900, 1800, 3600, 5400, 7200])
        category = rng.choice(categories)
        client = rng.choice(clients)
        billed = (
            category == Category.FACTURABLE
            and day < this_month
            and (i % 500 or day < this_month - dt.timedelta(days=40))
        )
        entries.append(
            TimeEntry(
                source=Source.API,
                clockify_id=f"bench{offset + i:019d}",
                natural_key=f"bench-{offset + i}",
                consultant=consultants[i % len(consultants)],
                client=client,
                client_name=client.name,
                project=rng.choice(["Infogérance", "Audit", "Messagerie", ""]),
                description=rng.choice(["Migration", "Support", "", "Réunion"]),
                start=start,
                end=start + dt.timedelta(seconds=seconds),
                duration_seconds=seconds,
                billable=category == Category.FACTURABLE,
                rule_category=category,
                category=category,
                invoice=timesheet if billed else None,
                billed_seconds=seconds if billed else None,
            )
        )
    TimeEntry.objects.bulk_create(entries, batch_size=5000)


def load_cycles(*, offset: int, count: int, on: dt.date) -> None:
    """``count`` cycle steps: a daily run a day going back in time, five steps each, one failed in ten."""
    from syaga.ops.models import CycleRun, CycleStep, RunStatus, StepStatus

    runs = CycleRun.objects.bulk_create(
        [
            CycleRun(
                kind="daily",
                day=on - dt.timedelta(days=offset // 5 + n + 1),
                status=RunStatus.FAILED if n % 10 == 0 else RunStatus.OK,
                holder="bench:1",
                started_at=dt.datetime.combine(
                    on - dt.timedelta(days=offset // 5 + n + 1), dt.time(6), tzinfo=dt.UTC
                ),
                finished_at=dt.datetime.combine(
                    on - dt.timedelta(days=offset // 5 + n + 1), dt.time(6, 2), tzinfo=dt.UTC
                ),
            )
            for n in range(count // 5)
        ],
        batch_size=5000,
    )
    labels = [
        "Factures récurrentes",
        "Règles de validation",
        "Synchronisation Qonto",
        "Rapprochement",
        "Alertes",
    ]
    CycleStep.objects.bulk_create(
        [
            CycleStep(
                run=run,
                position=position,
                code=f"step{position}",
                label=label,
                status=StepStatus.FAILED if (n % 10 == 0 and position == 4) else StepStatus.OK,
                started_at=run.started_at,
                finished_at=run.finished_at,
                counts={"lignes": position},
                error="OperationalError: database is locked" if (n % 10 == 0 and position == 4) else "",
            )
            for n, run in enumerate(runs)
            for position, label in enumerate(labels, start=1)
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
    for name in (
        b"tile-forecast",
        b"tile-revenue",
        b"tile-cycle",
        b"tile-indicators",
        b"tile-time",
        b"tile-mail",
    ):
        assert name in response.content, name
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
    parser.add_argument(
        "--keep", action="store_true", help="keep the PostgreSQL database at the end (its name is printed)"
    )
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
            if args.keep and isinstance(database, PostgresDatabase):
                print(f"database kept: {database.url}")
            else:
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
        tiles = ", ".join(f"{name} {ms:.1f} ms" for name, ms in slowest)
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
