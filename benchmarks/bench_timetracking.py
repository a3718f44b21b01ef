"""Time-tracking speed: a year of Clockify entries imported from CSV, categorised, and a month billed.

Standalone: ``.venv/bin/python benchmarks/bench_timetracking.py`` configures Django on a temporary SQLite
file, migrates it, writes a Clockify "Detailed report" export (default English format: MM/DD/YYYY,
12-hour times) of a year for 5 consultants (12,000 entries over 200 clients, a third under contract), and
prints medians over several runs. Targets (time-tracking issue): import < 5 s, categorise < 2 s,
``bill_timesheets`` for a month with 200 clients < 5 s.

- import: the whole file into an empty table (parse, check, resolve consultants and clients, categorise,
  insert), the entries deleted between runs;
- categorise: every entry classified again after a rule change that moves a third of them;
- bill: the month of March with FACTURABLE time for each of the 200 clients, rolled back between runs.

``--database-url postgres://user@host:port/name`` runs it on PostgreSQL instead, in a database
``<name>_bench_<pid>`` it creates and drops (never the one the URL names). Exits 1 when a median is over its
budget.
"""

import argparse
import csv
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = tempfile.mkdtemp(prefix="bench-time-")
_parser = argparse.ArgumentParser(description="Time-tracking speed (import, categorise, bill).")
_parser.add_argument("--database-url", default="", help="postgres://user@host:port/name (default: SQLite)")
OPTIONS = _parser.parse_args()
PG_ADMIN_URL = PG_BENCH_DB = ""
if OPTIONS.database_url.startswith(("postgres://", "postgresql://")):
    parts = urlsplit(OPTIONS.database_url)
    PG_ADMIN_URL = OPTIONS.database_url
    PG_BENCH_DB = f"{parts.path.lstrip('/') or 'postgres'}_bench_{os.getpid()}"
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{PG_BENCH_DB}"))
else:
    os.environ["DATABASE_URL"] = f"sqlite:///{TMP}/bench.sqlite3"
os.environ.pop("ALLOWED_HOSTS", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402
import psycopg  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from invoicing.models import Client, Contract, Invoice, SellerProfile  # noqa: E402
from timetracking.models import Category, CategoryRule, Consultant, MatchOn, TimeEntry  # noqa: E402
from timetracking.services.billing import timesheets_bill  # noqa: E402
from timetracking.services.categorisation import entries_categorise  # noqa: E402
from timetracking.services.csv_import import clockify_csv_import  # noqa: E402

BUDGETS = {"import": 5.0, "categorise": 2.0, "bill": 5.0}
MEDIANS: dict[str, float] = {}
ENTRIES = 12_000
CONSULTANTS = ("Jean Dupont", "Marie Curie", "Paul Martin", "Sophie Bernard", "Luc Petit")
CLIENTS = 200
RUNS = 3
YEAR = 2025
HEADER = [
    "Project",
    "Client",
    "Description",
    "Task",
    "User",
    "Group",
    "Email",
    "Tags",
    "Billable",
    "Start Date",
    "Start Time",
    "End Date",
    "End Time",
    "Duration (h)",
    "Duration (decimal)",
    "Billable Rate (EUR)",
    "Billable Amount (EUR)",
]


def setup_firm():
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
    )
    clients = []
    for i in range(CLIENTS):
        client = Client(
            name=f"Client {i:03d} SAS",
            siren="542051180",
            address_line1="1 avenue du Prado",
            postal_code="13008",
            city="Marseille",
            invoice_emails=f"compta{i}@example.fr",
            hourly_rate=Decimal("95.00") if i % 7 == 0 else None,
        )
        client.save()
        clients.append(client)
    for client in clients[::3]:
        Contract.objects.create(
            client=client,
            amount_ht=Decimal("500.00"),
            start_date=dt.date(2024, 1, 1),
            next_billing_date=dt.date(YEAR + 1, 1, 1),
        )


def twelve(hour: int, minute: int) -> str:
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour % 12) or 12:02d}:{minute:02d}:00 {suffix}"


def write_export(path: Path) -> None:
    """A year of working days, 5 consultants, ~10 entries a day each, clients in turn."""
    days = [
        dt.date(YEAR, 1, 1) + dt.timedelta(days=n)
        for n in range(365)
        if (dt.date(YEAR, 1, 1) + dt.timedelta(days=n)).weekday() < 5
    ]
    per_day = -(-ENTRIES // (len(days) * len(CONSULTANTS)))
    written = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, quoting=csv.QUOTE_ALL)
        out.writerow(HEADER)
        for day in days:
            for consultant in CONSULTANTS:
                minute_of_day = 8 * 60
                for k in range(per_day):
                    if written >= ENTRIES:
                        return
                    length = 15 + (written * 7) % 45
                    start = minute_of_day
                    end = start + length
                    minute_of_day = end + 2
                    n = written
                    client = n % CLIENTS
                    tags = "hors forfait" if (n // CLIENTS) % 3 == 0 else ""
                    own = n % 97 == 0
                    out.writerow(
                        [
                            f"Projet {client % 4}" if not own else "Veille",
                            f"Client {client:03d}" if not own else "SYAGA",
                            f"Intervention {n}" if n % 50 else "",
                            f"Tâche {k % 3}",
                            consultant,
                            "Consultants",
                            f"{consultant.split()[0].lower()}@syaga.fr",
                            tags,
                            "Yes",
                            day.strftime("%m/%d/%Y"),
                            twelve(start // 60, start % 60),
                            day.strftime("%m/%d/%Y"),
                            twelve(end // 60, end % 60),
                            f"{length // 60:02d}:{length % 60:02d}:00",
                            f"{length / 60:.2f}",
                            "110.00",
                            f"{length * 110 / 60:.2f}",
                        ]
                    )
                    written += 1


def bench_import(path: Path) -> None:
    timings = []
    for run in range(RUNS):
        TimeEntry.objects.all().delete()
        Consultant.objects.all().delete()
        started = time.perf_counter()
        report = clockify_csv_import(paths=[path])
        timings.append(time.perf_counter() - started)
        assert report.counts.created == ENTRIES, report.summary()
        print(f"  run {run + 1}: {timings[-1]:.2f} s ({report.summary()})")
    median = MEDIANS["import"] = statistics.median(timings)
    print(f"(a) import {ENTRIES} entries from CSV: median {median:.2f} s over {RUNS} runs")


def bench_categorise() -> None:
    rule = CategoryRule.objects.get(match_on=MatchOn.CLIENT_WITH_CONTRACT)
    timings = []
    for run in range(RUNS):
        # A rule change that moves every entry of a contract client: the engine reclassifies them all.
        CategoryRule.objects.filter(pk=rule.pk).update(
            category=Category.INTERNE if run % 2 == 0 else Category.FORFAIT
        )
        started = time.perf_counter()
        changed = entries_categorise()
        timings.append(time.perf_counter() - started)
        print(f"  run {run + 1}: {timings[-1]:.2f} s ({changed} entries changed category)")
    started = time.perf_counter()
    entries_categorise()
    unchanged = time.perf_counter() - started
    MEDIANS["categorise"] = statistics.median(timings)
    print(
        f"(b) categorise {TimeEntry.objects.count()} entries: median {statistics.median(timings):.2f} s over "
        f"{RUNS} runs (nothing to change: {unchanged:.2f} s)"
    )
    CategoryRule.objects.filter(pk=rule.pk).update(category=Category.FORFAIT)
    entries_categorise()


def bench_bill() -> None:
    month = dt.date(YEAR, 3, 1)
    timings = []
    for run in range(RUNS):
        with transaction.atomic():
            started = time.perf_counter()
            report = timesheets_bill(month=month)
            timings.append(time.perf_counter() - started)
            entries = sum(b.entries for b in report.bills)
            transaction.set_rollback(True)
        print(f"  run {run + 1}: {timings[-1]:.2f} s ({len(report.bills)} invoices, {entries} entries)")
    assert len(report.bills) == CLIENTS, len(report.bills)
    assert Invoice.objects.count() == 0
    MEDIANS["bill"] = statistics.median(timings)
    print(
        f"(c) bill_timesheets for a month with {len(report.bills)} clients: median "
        f"{statistics.median(timings):.2f} s over {RUNS} runs"
    )


def pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def main() -> int:
    if PG_BENCH_DB:
        pg_admin(f'CREATE DATABASE "{PG_BENCH_DB}"')
    print(f"  database: {connection.vendor}")
    call_command("migrate", verbosity=0)
    setup_firm()
    path = Path(TMP) / "clockify_year.csv"
    write_export(path)
    print(f"  export: {path.stat().st_size // 1024} KiB")
    bench_import(path)
    bench_categorise()
    bench_bill()
    over = [
        f"{name} {MEDIANS[name]:.2f} s > {budget:.0f} s"
        for name, budget in BUDGETS.items()
        if MEDIANS[name] > budget
    ]
    if over:
        print("over budget: " + ", ".join(over))
        return 1
    return 0


if __name__ == "__main__":
    status = 1
    try:
        status = main()
    finally:
        connection.close()
        shutil.rmtree(TMP, ignore_errors=True)
        if PG_BENCH_DB:
            pg_admin(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}"')
    sys.exit(status)
