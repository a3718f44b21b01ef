"""`make run`'s `manage.py serve`: a busy port starts nothing; Ctrl-C stops everything, without a trace;
the sign-in details are the last thing printed; the first start raises the overdue alerts and loads a demo
that fills every screen."""

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from banking.models import BankTransaction, OverdueAlert, PaymentAllocation
from invoicing.models import Invoice, InvoiceEvent
from invoicing.models.invoice import Kind, Status
from invoicing.models.validation import EventKind
from invoicing.selectors import overdue_summary_by_level
from syaga.core.dates import today
from syaga.ops.demo import demo_load
from syaga.ops.services import first_start

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALLOWED_HOSTS", "DEBUG")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return env


def children_of(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def test_a_busy_port_starts_nothing(tmp_path):
    # given: something already listens on the port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # when
        done = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--no-demo"],
            cwd=ROOT,
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
    # then: a clear error at once, and no database, no worker left behind
    assert done.returncode == 1
    assert f"Le port {port} est déjà utilisé" in done.stderr
    assert "Rien n'a été démarré" in done.stderr
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.slow
def test_start_then_ctrl_c_stops_everything_cleanly(tmp_path):
    # given: a migrated empty database
    env = environment(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    port = free_port()
    log = (tmp_path / "run.log").open("w+")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--no-demo"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while "Arrêt : Ctrl-C." not in (tmp_path / "run.log").read_text() and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        started = (tmp_path / "run.log").read_text()
        workers = children_of(server.pid)
        # when: Ctrl-C, as the terminal sends it to the foreground group
        os.killpg(server.pid, signal.SIGINT)
        code = server.wait(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    output = (tmp_path / "run.log").read_text()
    # then: the sign-in details were the last thing printed at start
    last = started.rstrip().splitlines()[-4:]
    assert last[0] == f"Back-office : http://127.0.0.1:{port}/admin/"
    assert last[1].startswith(
        "Compte administrateur créé. Connectez-vous sur /admin/ en tant que « admin » avec le mot de passe : "
    )
    assert last[3] == "Arrêt : Ctrl-C."
    assert f"http://127.0.0.1:{port}/admin/" in started
    # a clean stop: exit 0, no trace, nobody left running
    assert code == 0, output
    assert "Traceback" not in output
    assert "Back-office arrêté." in output
    assert len(workers) == 2  # the web server and the cluster
    time.sleep(0.5)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


@pytest.mark.django_db
def test_first_start_raises_the_overdue_alerts(seller, settings):
    # given: books loaded without the daily job having run
    settings.PRODUCTION = False
    demo_load(today=today())
    assert not OverdueAlert.objects.exists()
    # when
    result = first_start(load_demo=False)
    # then: one alert per level reached, the same invoices the first page counts as 15 days late or more
    assert result.alerts_raised == OverdueAlert.objects.count()
    levels = {row["level"]: row["count"] for row in overdue_summary_by_level(on=today())}
    raised = Counter(
        OverdueAlert.objects.values_list("invoice_id", flat=True).distinct().count() for _ in [0]
    )
    assert raised[sum(count for level, count in levels.items() if level)] == 1


TOWNS = {
    "Aix-en-Provence": "13100",
    "Marseille": "130",
    "Aubagne": "13400",
    "Toulon": "83000",
    "La Ciotat": "13600",
    "Vitrolles": "13127",
    "Cassis": "13260",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("days_ago", [0, 6, 17, 37], ids=lambda days: f"{days} days ago")
def test_the_demo_fills_every_screen(days_ago):
    # given: any day of the month (the demo once only worked in the first days of one)
    day = today() - dt.timedelta(days=days_ago)
    # when
    demo_load(today=day)
    # then: invoices waiting for approval, to send, overdue at every level
    statuses = Counter(Invoice.objects.filter(kind=Kind.INVOICE).values_list("status", flat=True))
    assert statuses[Status.PENDING_REVIEW] >= 2
    assert statuses[Status.DRAFT] >= 1
    assert statuses[Status.ISSUED] >= 1  # issued this month, still to send
    assert statuses[Status.PARTIALLY_PAID] >= 1
    assert statuses[Status.CANCELLED] >= 1
    levels = {row["level"]: row["count"] for row in overdue_summary_by_level(on=day)}
    assert all(levels[level] >= 1 for level in (0, 15, 30, 60, 90)), levels
    # paid by each route: matched by the bank automatically, a confirmed suggestion, by hand, by cheque
    methods = Counter(PaymentAllocation.objects.values_list("method", flat=True))
    assert methods["auto"] >= 1
    assert methods["manual"] >= 2
    reasons = list(InvoiceEvent.objects.filter(kind=EventKind.PAYMENT).values_list("reason", flat=True))
    assert any("rapprochement automatique" in r for r in reasons)
    assert any("suggestion confirmée par" in r for r in reasons)
    assert any("affecté par" in r for r in reasons)
    assert any("chèque" in r for r in reasons)
    # a bank account with matched, suggested, unrecognised and non-invoice credits
    credits = Counter(BankTransaction.objects.filter(side="credit").values_list("match_status", flat=True))
    assert credits["matched"] >= 3
    assert credits["suggested"] >= 1
    assert credits["unrecognised"] >= 1
    assert credits["no_invoice"] >= 1
    # postal codes are those of their towns
    for client in Invoice.objects.values_list("client__city", "client__postal_code").distinct():
        town, code = client
        assert code.startswith(TOWNS[town]), client
    assert Invoice.objects.filter(issue_date__gte=day - dt.timedelta(days=400)).exists()


@pytest.mark.django_db
def test_seed_demo_speaks_french(seller):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from tests.factories import make_invoice

    # given: the books already hold an invoice
    make_invoice(status="issued")
    out = StringIO()

    # when / then
    call_command("seed_demo", stdout=out)
    assert out.getvalue().strip() == "La base contient déjà des factures : démo non chargée."
    with pytest.raises(CommandError, match=r"--today : « hier » n'est pas une date valide \(jj/mm/aaaa"):
        call_command("seed_demo", "--today", "hier")


def test_the_demo_summary_and_the_sign_in_text_are_french():
    from syaga.ops.management.commands.bootstrap import demo_summary, sign_in_text
    from syaga.ops.services import FirstStart

    summary = demo_summary({"clients": 9, "contracts": 9, "invoices": 120, "paid": 100, "transactions": 80})
    assert (
        summary == "Démo chargée : 9 clients, 9 contrats, 120 factures (100 payées), 80 opérations bancaires."
    )
    known = sign_in_text(FirstStart(username="admin"))
    assert known.startswith("Connectez-vous en tant que « admin » avec le mot de passe affiché au premier")
