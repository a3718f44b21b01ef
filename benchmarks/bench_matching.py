"""Benchmark of the payment matcher: N credits against N open invoices, N = 1,000 and 10,000.

Standalone: ``.venv/bin/python benchmarks/bench_matching.py [--sizes 1000 10000] [--runs 3]``. Uses a
temporary SQLite file (migrated), generates N/5 clients, N open invoices and N credits (60 % name the
invoice, 25 % only the payer's name, a third of those with a letter dropped, 5 % pay two invoices,
10 % pay no invoice), then times ``payments_match()`` (decisions and writes) in a transaction rolled
back after each run. Prints the median of the runs and the ratio 10k/1k next to the n log n ratio
(about 13.3).
"""

import argparse
import datetime as dt
import math
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="bench-matching-")
os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")

import django  # noqa: E402

django.setup()

from zoneinfo import ZoneInfo  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from banking.models import BankTransaction  # noqa: E402
from banking.services.allocation import payments_match  # noqa: E402
from invoicing.models import Client, Invoice  # noqa: E402
from invoicing.models.invoice import Status  # noqa: E402
from syaga.core.text import normalize_company_name  # noqa: E402

WORDS = [
    "AZUR",
    "PROVENCE",
    "MISTRAL",
    "CALANQUE",
    "MASSILIA",
    "PHOCEA",
    "LUBERON",
    "VENTOUX",
    "CAMARGUE",
    "ESTEREL",
    "ALPILLES",
    "CANEBIERE",
    "GOLFE",
    "GARLABAN",
    "BAUMES",
    "OLIVIER",
    "CIGALE",
    "LAVANDE",
]
TRADES = [
    "INFORMATIQUE",
    "BATIMENT",
    "SERVICES",
    "CONSEIL",
    "IMMOBILIER",
    "DISTRIBUTION",
    "LOGISTIQUE",
    "NETTOYAGE",
    "PLOMBERIE",
    "AUDIT",
    "EXPERTISE",
    "MEDICAL",
    "TRANSPORTS",
    "RESTAURATION",
]
PARIS = ZoneInfo("Europe/Paris")


def populate(n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    n_clients = max(10, n // 5)
    names = set()
    while len(names) < n_clients:
        names.add(f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(TRADES)} {rng.randint(1, 999)}")
    # digits are dropped from bank labels: give each client a unique word-only name
    names = [
        " ".join(w for w in name.split() if not w.isdigit()) + " " + _letters(i)
        for i, name in enumerate(sorted(names))
    ]
    clients = Client.objects.bulk_create(
        [Client(name=n_, normalized_name=normalize_company_name(n_)) for n_ in names], batch_size=1000
    )
    invoices = []
    start = dt.date(2025, 1, 1)
    for i in range(1, n + 1):
        c = clients[rng.randrange(len(clients))]
        cents = rng.randint(5000, 900000)
        ttc = Decimal(cents) / 100
        ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
        issue = start + dt.timedelta(days=rng.randrange(300))
        invoices.append(
            Invoice(
                number=f"F2025{i:05d}",
                series="F",
                client=c,
                status=Status.ISSUED,
                issue_date=issue,
                due_date=issue + dt.timedelta(days=30),
                total_ht=ht,
                total_vat=ttc - ht,
                total_ttc=ttc,
            )
        )
    Invoice.objects.bulk_create(invoices, batch_size=1000)
    by_client = {}
    for inv in invoices:
        by_client.setdefault(inv.client_id, []).append(inv)
    txs = []
    for i in range(n):
        inv = invoices[i]
        kind = rng.random()
        label, reference, amount = inv.client.name, "", inv.total_ttc
        if kind < 0.60:
            reference = rng.choice(
                [inv.number, f"FACTURE {inv.number[:5]}-{inv.number[5:]}", inv.number.lower()]
            )
        elif kind < 0.85:
            reference = "VIREMENT"
            if rng.random() < 0.3:  # a letter dropped by the bank: the fuzzy path
                pos = rng.randrange(3, len(label) - 1)
                label = label[:pos] + label[pos + 1 :]
        elif kind < 0.90:
            others = [o for o in by_client[inv.client_id] if o is not inv]
            if others:
                amount += others[0].total_ttc
                reference = f"{inv.number} {others[0].number}"
        else:
            label, reference = rng.choice(
                [("DGFIP", "REMBT TVA"), ("QONTO", "INTERETS"), ("M DUPONT", "APPORT")]
            )
            amount = Decimal(rng.randint(100, 500000)) / 100
        day = start + dt.timedelta(days=300 + rng.randrange(60))
        txs.append(
            BankTransaction(
                qonto_id=f"q{i}",
                transaction_id=f"bench-transaction-{i}",
                amount=amount,
                side="credit",
                status="completed",
                label=label,
                clean_counterparty_name=label,
                reference=reference,
                settled_at=dt.datetime.combine(day, dt.time(10), tzinfo=PARIS),
            )
        )
    BankTransaction.objects.bulk_create(txs, batch_size=1000)


def _letters(i: int) -> str:
    out = ""
    i += 26 * 26
    while i:
        i, r = divmod(i, 26)
        out = chr(65 + r) + out
    return out


def time_run() -> tuple[float, dict]:
    with transaction.atomic():
        t0 = time.perf_counter()
        results = payments_match()
        elapsed = time.perf_counter() - t0
        transaction.set_rollback(True)
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return elapsed, counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    medians = {}
    for n in args.sizes:
        with transaction.atomic():  # each size on an empty database: everything is rolled back after
            populate(n)
            times = []
            for _ in range(args.runs):
                elapsed, counts = time_run()
                times.append(elapsed)
            transaction.set_rollback(True)
        medians[n] = statistics.median(times)
        print(
            f"N={n:>6}: median {medians[n]:.2f} s over {args.runs} runs "
            f"({', '.join(f'{t:.2f}' for t in times)}); decisions {counts}"
        )
    if len(medians) >= 2:
        small, large = min(medians), max(medians)
        ratio = medians[large] / medians[small]
        nlogn = (large * math.log(large)) / (small * math.log(small))
        print(f"ratio {large}/{small}: {ratio:.1f} (n log n ratio {nlogn:.1f}, linear {large / small:.0f})")
        print(f"target: N={large} under 30 s: {'OK' if medians[large] < 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
