"""Benchmark of the history import: 100,000 CSV rows into a fresh database, on SQLite or PostgreSQL.

Standalone: ``.venv/bin/python benchmarks/bench_import.py [--database-url URL] [--rows N] [--runs N]``.

It generates an export like the old tool's (``;``, UTF-8 with BOM, decimal comma, non-breaking-space
thousands, dd/mm/yyyy, several rows per invoice for some, credit notes, payment dates, client names spelled
several ways), then times ``invoices_import_csv`` on a fresh, migrated database per run, each run in its
own process. The database is the benchmark's own, never the one the URL names:

- ``sqlite:///…`` or no URL: a temporary SQLite file, migrated once and copied for each run;
- ``postgres://user@host:port/name``: the server is reached through ``name``, and the benchmark creates
  ``<name>_bench_<pid>`` (migrated once, the template of one database per run), dropped at the end.

Prints each run, then the median over the runs (at least 3) and rows/s; exits 1 when the median is over
the 10 s budget.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 10.0
MIN_RUNS = 3
HEADER = "N° facture;Date facture;Échéance;Raison sociale;Désignation;Montant HT;TVA;Montant TTC;Réglée le"
FORMS = ["SARL", "SAS", "", "S.A.R.L.", "EURL", "SA"]
LABELS = [
    "Infogérance mensuelle",
    "Dépannage sur site",
    "Maintenance serveur",
    "Licences Microsoft 365",
    "Audit sécurité",
    "Forfait sauvegarde",
    "Intervention réseau",
    "Heures de régie",
]


def _amount(value: Decimal) -> str:
    """French export style: 1 234,56 with a non-breaking space every third digit, sometimes none."""
    integer, cents = f"{value:.2f}".split(".")
    sign = "-" if integer.startswith("-") else ""
    integer = integer.lstrip("-")
    if len(integer) > 3 and random.random() < 0.7:
        integer = f"{int(integer):,}".replace(",", "\u00a0")
    return f"{sign}{integer},{cents}"


def generate(path: Path, rows: int) -> None:
    random.seed(2010)
    trades = ["Pharmacie", "Cabinet", "Boulangerie", "Garage", "Agence", "Clinique"]
    names = ["Martin", "Durand", "Lefèvre", "Moreau", "Girard", "Rousseau", "Bézier"]
    companies = [f"{random.choice(trades)} {random.choice(names)} {n}" for n in range(400)]
    lines = [HEADER]
    sequence: dict[tuple[str, int], int] = {}
    year_days = 365
    written = 0
    while written < rows:
        credit = random.random() < 0.02
        series = "A" if credit else "F"
        day = random.randrange(16 * year_days)
        year = 2010 + day // year_days
        month, dom = 1 + (day % year_days) // 31 % 12, 1 + day % 28
        sequence[(series, year)] = sequence.get((series, year), 0) + 1
        number = f"{series}{year}{sequence[(series, year)]:04d}"
        company = random.choice(companies)
        form = random.choice(FORMS)
        client = random.choice([f"{form} {company}".strip(), company.upper(), f"{company} {form}".strip()])
        issue = f"{dom:02d}/{month:02d}/{year}"
        due = f"{dom:02d}/{month % 12 + 1:02d}/{year + (month == 12)}" if random.random() < 0.8 else ""
        paid = f"{dom:02d}/{month % 12 + 1:02d}/{year + (month == 12)}" if random.random() < 0.8 else ""
        # Distinct labels on the rows of one invoice: identical rows would be refused as duplicates.
        labels = random.sample(LABELS, min(random.choice([1, 1, 1, 1, 1, 1, 2, 3]), rows - written))
        for label in labels:
            ht = Decimal(random.randrange(5_000, 900_000)) / 100
            if credit:
                ht = -ht
            vat = (ht * Decimal("0.2")).quantize(Decimal("0.01"))
            kind = random.random()
            ht_s, vat_s, ttc_s = _amount(ht), _amount(vat), _amount(ht + vat)
            if kind < 0.1:
                vat_s = ttc_s = ""  # derived at 20 %
            elif kind < 0.2:
                ht_s = vat_s = ""
            lines.append(";".join([number, issue, due, client, label, ht_s, vat_s, ttc_s, paid]))
            written += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


# -- the child: one import in its own process ----------------------------------------------------------


def child(url: str, csv_path: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if csv_path == "migrate":
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return
    from django.db import connection

    from invoicing.models import Invoice
    from invoicing.services.history_import import invoices_import_csv

    start, cpu_start = time.perf_counter(), time.process_time()
    report = invoices_import_csv(path=csv_path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert Invoice.objects.count() == report.invoices_created + report.credit_notes_created
    connection.close()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "rows": report.rows_read,
                "invoices": report.invoices_created + report.credit_notes_created,
                "lines": report.lines_created,
                "clients": report.clients_created,
            }
        )
    )


# -- the databases --------------------------------------------------------------------------------------


class SQLiteDatabases:
    label = "SQLite"

    def __init__(self, tmpdir: Path):
        self.tmpdir = tmpdir
        self.template = tmpdir / "template.sqlite3"

    def template_url(self) -> str:
        return f"sqlite:///{self.template}"

    def fresh_url(self, run: int) -> str:
        db = self.tmpdir / f"run{run}.sqlite3"
        shutil.copy(self.template, db)
        return f"sqlite:///{db}"

    def drop_all(self) -> None:
        """The temporary directory goes with everything in it."""


class PostgresDatabases:
    label = "PostgreSQL"

    def __init__(self, url: str):
        import psycopg  # only needed, and only installed for sure, when PostgreSQL is benchmarked

        self.psycopg = psycopg
        self.parts = urlsplit(url)
        base = self.parts.path.lstrip("/") or "postgres"
        self.server_db = base
        self.prefix = f"{base}_bench_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []
        self._execute(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)

    def _url(self, name: str) -> str:
        return urlunsplit(self.parts._replace(path=f"/{name}"))

    def _execute(self, sql: str) -> None:
        # CREATE/DROP DATABASE cannot run in a transaction: autocommit, on the database the URL names.
        with self.psycopg.connect(self._url(self.server_db), autocommit=True) as conn:
            conn.execute(sql)

    def template_url(self) -> str:
        return self._url(self.template)

    def fresh_url(self, run: int) -> str:
        name = f"{self.prefix}_run{run}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self._url(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self._execute(f'DROP DATABASE IF EXISTS "{name}"')
        self.created.clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="",
        help="sqlite:///… (default: a temporary file) or postgres://user@host:port/name (a temporary "
        "database is created next to name and dropped at the end)",
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=MIN_RUNS)
    parser.add_argument("--child", nargs=2, metavar=("URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS} for a median to mean something")
    url = args.database_url
    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        tmpdir = Path(tmp)
        csv_path = tmpdir / "export.csv"
        generate(csv_path, args.rows)
        if url.startswith(("postgres://", "postgresql://")):
            databases = PostgresDatabases(url)
        elif not url or url.startswith("sqlite:"):
            databases = SQLiteDatabases(tmpdir)
        else:
            parser.error(f"unsupported database URL {url!r} (sqlite:///… or postgres://…)")
        me = [sys.executable, str(Path(__file__).resolve()), "--child"]
        results = []
        try:
            subprocess.run([*me, databases.template_url(), "migrate"], check=True, cwd=ROOT)
            for run in range(1, args.runs + 1):
                done = subprocess.run(
                    [*me, databases.fresh_url(run), str(csv_path)],
                    check=True,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
                results.append(result)
                print(
                    f"run {run}: {result['seconds']:.2f} s wall, {result['cpu']:.2f} s CPU "
                    f"({result['rows']} rows, {result['invoices']} invoices, {result['lines']} lines, "
                    f"{result['clients']} clients)",
                    flush=True,
                )
        finally:
            databases.drop_all()
    median = statistics.median(r["seconds"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results)
    rows = results[0]["rows"]
    verdict = "OK" if median < BUDGET_SECONDS else "OVER BUDGET"
    # CPU time is printed too: on a shared machine the wall clock also measures the neighbours.
    print(
        f"import_invoices, {rows} rows on {databases.label}: median of {len(results)} runs "
        f"{median:.2f} s wall ({rows / median:,.0f} rows/s), {cpu:.2f} s CPU "
        f"(budget {BUDGET_SECONDS:.0f} s wall: {verdict})"
    )
    return 0 if median < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
