"""Benchmark of the payment matcher: N credits against N open invoices, N = 1,000, 10,000 and 30,000.

Standalone: ``.venv/bin/python benchmarks/bench_matching.py [--sizes 1000 10000 30000] [--runs 3]``.

For each size a temporary SQLite file is migrated and filled once: N/5 clients, N open invoices and N
credits (60 % name the invoice, 25 % only the payer's name, a third of those with a letter dropped, 5 % pay
two invoices, 10 % pay no invoice), each credit with a raw Qonto object of about 1.5 kB as the sync
stores it. Each run is a fresh process that times ``payments_match()`` (decisions and writes) in a
transaction rolled back at the end, and reports its peak resident memory (``ru_maxrss``, the whole
process: Python and Django included) and the resident memory before the run; one more run per size is
traced with ``tracemalloc`` (slower, not timed) for the peak of what the run itself allocated.

Prints the median wall and CPU time of the runs (CPU time is the steadier figure on a shared machine), the
memory figures, the CPU ratio 30k/1k against linear, and checks the target: under 200 MB at 30,000 credits.
``--database-url postgres://…/name`` runs on a PostgreSQL database of yours instead, emptied before each
size and after.
"""

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BUDGET_MB = 200
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


def _setup(database_url: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
    import django

    django.setup()


def _raw(i: int, label: str, reference: str, amount: Decimal, settled: dt.datetime, iban: str) -> dict:
    """A Qonto transaction object as ``GET /v2/transactions`` returns it (qonto-clockify.md A3)."""
    stamp = settled.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": f"6c0c7b8e-6a7e-4a8e-9a3e-{i:012d}",
        "transaction_id": f"bench-transaction-{i}",
        "bank_account_id": "018f71db-c635-78b5-b90a-ea05de98c2bf",
        "amount": float(amount),
        "amount_cents": int(amount * 100),
        "local_amount": float(amount),
        "local_amount_cents": int(amount * 100),
        "settled_balance": 15432.1,
        "settled_balance_cents": 1543210,
        "side": "credit",
        "operation_type": "income",
        "currency": "EUR",
        "local_currency": "EUR",
        "label": label,
        "clean_counterparty_name": label.title(),
        "reference": reference,
        "note": None,
        "emitted_at": stamp,
        "settled_at": stamp,
        "created_at": stamp,
        "updated_at": stamp,
        "status": "completed",
        "vat_amount": None,
        "vat_amount_cents": None,
        "vat_rate": None,
        "initiator_id": None,
        "label_ids": [],
        "attachment_ids": [],
        "attachment_lost": False,
        "attachment_required": False,
        "card_last_digits": None,
        "category": "other_income",
        "cashflow_category": {"id": "b3a4c0de-0000-4000-8000-000000000001", "name": "Ventes"},
        "cashflow_subcategory": None,
        "subject_type": "Income",
        "is_external_transaction": False,
        "logo": {"small": "https://qonto.com/logo-small.png", "medium": "https://qonto.com/logo-medium.png"},
        "income": {
            "counterparty_account_number": iban,
            "counterparty_account_number_format": "IBAN",
            "counterparty_bank_identifier": "BNPAFRPPXXX",
            "counterparty_bank_identifier_format": "SWIFT_BIC",
        },
    }


def populate(n: int, seed: int = 7) -> None:
    from zoneinfo import ZoneInfo

    from banking.models import BankTransaction
    from invoicing.models import Client, Invoice
    from invoicing.models.invoice import Status
    from syaga.core.text import normalize_company_name

    paris = ZoneInfo("Europe/Paris")
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
        settled = dt.datetime.combine(day, dt.time(10), tzinfo=paris)
        iban = "FR76" + f"{rng.randrange(10**23):023d}"
        txs.append(
            BankTransaction(
                qonto_id=f"q{i}",
                transaction_id=f"bench-transaction-{i}",
                amount=amount,
                side="credit",
                status="completed",
                operation_type="income",
                label=label,
                clean_counterparty_name=label,
                reference=reference,
                counterparty_iban=iban,
                settled_at=settled,
                emitted_at=settled,
                qonto_updated_at=settled,
                raw=_raw(i, label, reference, amount, settled, iban),
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


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(database_url: str, traced: bool) -> None:
    """One run in this fresh process: time, peak RSS, optionally the tracemalloc peak; prints JSON."""
    _setup(database_url)
    from django.db import transaction

    from banking.services.allocation import payments_match

    rss_before = _rss_mb()
    if traced:
        tracemalloc.start()
    with transaction.atomic():
        t0, cpu0 = time.perf_counter(), time.process_time()
        results = payments_match()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        transaction.set_rollback(True)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else None
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    print(
        json.dumps(
            {
                "elapsed": elapsed,
                "cpu": cpu,
                "rss_before": rss_before,
                "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "traced_peak": traced_peak,
                "counts": counts,
            }
        )
    )


def _run_child(url: str, traced: bool) -> dict:
    args = [sys.executable, __file__, "--child", url] + (["--traced"] if traced else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url",
        default="",
        help="postgres://…/name: a database of yours, emptied before each size and after (default: SQLite)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.traced)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench-matching-"))
    try:
        return _bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bench(args, tmp: Path) -> int:
    rows = {}
    for n in args.sizes:
        url = args.database_url or f"sqlite:///{tmp}/bench-{n}.sqlite3"
        _helper(f"b.fill({url!r}, {n})")
        try:
            runs = [_run_child(url, traced=False) for _ in range(args.runs)]
            traced = _run_child(url, traced=True)
        finally:
            if args.database_url:
                _helper(f"b.empty({url!r})")
        median = statistics.median(r["elapsed"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rss = statistics.median(r["rss_peak"] for r in runs)
        rows[n] = (cpu, rss)
        each = ", ".join(f"{r['elapsed']:.2f}" for r in runs)
        print(
            f"N={n:>6}: median {median:.2f} s over {args.runs} runs ({each}), CPU {cpu:.2f} s; "
            f"peak RSS {rss:.0f} MB "
            f"(before the run {runs[0]['rss_before']:.0f} MB); tracemalloc peak "
            f"{traced['traced_peak']:.0f} MB; decisions {runs[0]['counts']}",
            flush=True,
        )
    status = 0
    if len(rows) >= 2:
        small, large = min(rows), max(rows)
        ratio = rows[large][0] / rows[small][0]
        print(f"CPU time ratio {large}/{small}: {ratio:.1f} (linear {large / small:.0f})")
    if 30000 in rows:
        ok = rows[30000][1] < MEMORY_BUDGET_MB
        print(f"target: peak RSS at N=30000 under {MEMORY_BUDGET_MB} MB: {'OK' if ok else 'MISSED'}")
        status = 0 if ok else 1
    return status


def _helper(code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", f"import bench_matching as b; {code}"], cwd=Path(__file__).parent, check=True
    )


def fill(url: str, n: int) -> None:
    """Migrate the database at ``url``, empty it, and fill it for ``n`` credits (its own process)."""
    _setup(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    populate(n)


def empty(url: str) -> None:
    _setup(url)
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
