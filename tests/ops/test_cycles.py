"""The firm's day: steps in order, each recorded; a failure stops nothing; the same day twice changes
nothing."""

import datetime as dt
import os
import signal
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invoicing.documents.pdf import invoice_pdf_ensure
from invoicing.models import Invoice
from syaga.ops import cycles
from syaga.ops.cycles import CycleBusy, NotConfigured, Step, cycle_run, lease_take
from syaga.ops.models import CycleLease, CycleRun, RunStatus, StepStatus
from tests.factories import ContractFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)


def steps_of(run: CycleRun) -> list[tuple[str, str]]:
    return list(run.steps.values_list("code", "status"))


def test_a_failing_step_is_reported_and_the_others_still_run():
    # given: three steps, the first one breaks
    def broken(ctx):
        raise ValueError("le service a cassé")

    steps = [
        Step("a", "Première", broken),
        Step("b", "Deuxième", lambda ctx: {"faits": 3}, inputs=("a",)),
        Step("c", "Troisième", lambda ctx: {"faits": 1}),
    ]
    # when
    run = cycle_run(kind="daily", day=DAY, steps=steps)
    # then
    assert run.status == RunStatus.FAILED
    assert steps_of(run) == [("a", "failed"), ("b", "ok"), ("c", "ok")]
    first, second = run.steps.all()[:2]
    assert "ValueError: le service a cassé" in first.error
    assert second.message == "entrée en échec : a."
    assert second.counts == {"faits": 3}


def test_an_integration_without_credentials_is_not_configured_and_what_follows_runs():
    def unconfigured(ctx):
        raise NotConfigured("Qonto non configuré")

    steps = [
        Step("bank", "Banque", unconfigured, external=True),
        Step("match", "Rapprochement", lambda c: {}),
    ]
    run = cycle_run(kind="daily", day=DAY, steps=steps)
    assert run.status == RunStatus.OK
    assert steps_of(run) == [("bank", "not_configured"), ("match", "ok")]


def test_the_real_daily_cycle_without_integrations_bills_validates_and_matches(seller):
    # given: a monthly contract due that day; no Clockify, Qonto nor inbox credentials
    ContractFactory(amount_ht=Decimal("500.00"), start_date=DAY, next_billing_date=DAY)
    # when
    run = cycle_run(kind="daily", day=DAY)
    # then: every step ran, the unconfigured ones say so
    assert dict(steps_of(run)) == {
        "clockify": "not_configured",
        "coaching": "ok",
        "recurring": "ok",
        "validate": "ok",
        "documents": "ok",
        "send": "ok",
        "qonto": "not_configured",
        "match": "ok",
        "overdue": "ok",
        "dunning": "ok",
        "inbox": "not_configured",
        "report": "ok",
    }
    assert run.status == RunStatus.OK
    assert run.steps.get(code="recurring").counts["factures créées"] == 1
    # when: the same day again
    again = cycle_run(kind="daily", day=DAY)
    # then: nothing is generated twice
    assert again.steps.get(code="recurring").counts["factures créées"] == 0
    assert Invoice.objects.count() == 1


def test_no_dunning_when_the_payments_could_not_be_matched(monkeypatch, seller):
    # a reminder to a client whose transfer arrived but was not matched would be wrong
    def broken_match(ctx):
        raise RuntimeError("base indisponible")

    steps = [
        Step("qonto", "Banque", lambda ctx: {}),
        Step("match", "Rapprochement", broken_match),
        Step("dunning", "Relances", lambda ctx: {"relances envoyées": 3}, requires=("qonto", "match")),
    ]
    run = cycle_run(kind="daily", day=DAY, steps=steps)
    dunning = run.steps.get(code="dunning")
    assert (dunning.status, dunning.message) == ("skipped", "non lancée : match en échec")


def test_the_weekly_integrity_step_catches_a_change_behind_the_applications_back(seller):
    from django.db import connection

    from tests.factories import make_invoice

    invoice = make_invoice(status="issued", amounts=[Decimal("200.00")])
    invoice_pdf_ensure(invoice)
    weekly = cycle_run(kind="weekly", day=DAY)
    assert weekly.status == RunStatus.OK, list(weekly.steps.values_list("code", "status", "error"))
    assert weekly.steps.get(code="reconcile").counts["écarts"] == 0
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL's trigger refuses the raw edit itself (tests/invoicing/test_immutability.py)")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE invoicing_invoice SET subject = %s WHERE id = %s", ["autre objet", invoice.pk])
    run = cycle_run(kind="weekly", day=DAY)
    step = run.steps.get(code="integrity")
    assert (run.status, step.status) == (RunStatus.FAILED, StepStatus.FAILED)
    assert invoice.number in step.error


def test_a_dry_run_keeps_nothing_and_skips_the_outside_world(seller):
    ContractFactory(amount_ht=Decimal("500.00"), start_date=DAY, next_billing_date=DAY)
    run = cycle_run(kind="daily", day=DAY, dry_run=True)
    assert run.steps.get(code="recurring").counts["factures créées"] == 1
    assert run.steps.get(code="qonto").status == StepStatus.SKIPPED
    assert Invoice.objects.count() == 0


def test_two_cycles_of_one_kind_never_run_at_once():
    lease_take("daily", holder="autre-machine:123")
    with pytest.raises(CycleBusy, match="tourne déjà"):
        cycle_run(kind="daily", day=DAY, steps=[])
    # another kind is free
    assert cycle_run(kind="weekly", day=DAY, steps=[]).status == RunStatus.OK


def test_an_expired_lease_is_taken_over():
    lease_take("daily", holder="autre-machine:123")
    CycleLease.objects.filter(kind="daily").update(until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert cycle_run(kind="daily", day=DAY, steps=[]).status == RunStatus.OK


@pytest.mark.postgres  # a second OS process must see the test database (SQLite's is in memory)
@pytest.mark.django_db(transaction=True)
def test_a_cycle_killed_with_kill_9_leaves_nothing_stuck():
    # given: a process on this machine holds the lease (a cycle in the middle of its work), then is killed
    code = (
        "import django, os, time; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'syaga.settings'); "
        "django.setup(); from syaga.ops.cycles import lease_take; from syaga.ops.models import CycleRun; "
        "from django.utils import timezone; import datetime as dt; "
        "h = lease_take('daily'); CycleRun.objects.create(kind='daily', day=dt.date(2026, 3, 2), holder=h, "
        "started_at=timezone.now()); print('held', flush=True); time.sleep(60)"
    )
    from django.db import connection

    env = dict(os.environ, DATABASE_URL=_database_url(connection))
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert worker.stdout.readline().strip() == "held"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        # when: the next run starts at once (the lease is still valid for 15 minutes)
        run = cycle_run(kind="daily", day=DAY, steps=[])
    finally:
        if worker.poll() is None:
            worker.kill()
    # then: it ran, and the killed run is marked interrupted
    assert run.status == RunStatus.OK
    assert CycleRun.objects.filter(status=RunStatus.INTERRUPTED).count() == 1


def _database_url(connection) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def test_the_command_prints_each_step_and_fails_loudly(monkeypatch):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(
        cycles,
        "DAILY_STEPS",
        [
            Step("x", "Étape cassée", broken),
            Step("y", "Suite", lambda c: {"n": 2}),
            Step(
                "z",
                "Rapprochement",
                lambda c: {"crédits examinés": 30000, "total HT": "1\u202f234,56\u00a0€"},
            ),
        ],
    )
    out = StringIO()
    with pytest.raises(CommandError, match="au moins une étape a échoué"):
        call_command("cycle", "daily", "--date", "02/03/2026", stdout=out)
    text = out.getvalue()
    assert "Cycle quotidien du 02/03/2026" in text
    assert "[ÉCHEC] Étape cassée — RuntimeError: boom" in text
    assert "[ok ] Suite — n : 2" in text
    # (PostgreSQL's jsonb keeps the counts in its own key order)
    [line] = [line for line in text.splitlines() if "[ok ] Rapprochement — " in line]
    assert "crédits examinés : 30\u202f000" in line
    assert "total HT : 1\u202f234,56\u00a0€" in line


def test_the_command_refuses_a_bad_date():
    with pytest.raises(CommandError, match=r"--date : « 31/02/2026 » n'est pas une date valide"):
        call_command("cycle", "daily", "--date", "31/02/2026")


def test_the_runs_and_their_steps_are_readable_in_the_admin(client):
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(username="chef", is_superuser=True))
    run = cycle_run(kind="daily", day=DAY, steps=[Step("a", "Étape lisible", lambda ctx: {"faites": 2})])
    assert client.get(reverse("admin:ops_cyclerun_changelist")).status_code == 200
    page = client.get(reverse("admin:ops_cyclerun_change", args=[run.pk])).content.decode()
    assert "Étape lisible" in page
    assert "faites : 2" in page
    assert "Cycle quotidien du 02/03/2026" in page


def test_the_weekly_reconciliation_fails_on_a_missing_pdf(seller, settings, tmp_path):
    from tests.factories import make_invoice

    settings.INVOICE_PDF_DIR = str(tmp_path / "pdf")
    kept, lost = (make_invoice(status="issued", amounts=[Decimal(a)]) for a in ("200.00", "300.00"))
    for invoice in (kept, lost):
        invoice_pdf_ensure(invoice)
    lost.refresh_from_db()
    (tmp_path / "pdf" / lost.pdf_path).unlink()
    run = cycle_run(kind="weekly", day=DAY)
    step = run.steps.get(code="reconcile")
    assert step.status == StepStatus.FAILED
    assert "écart" in step.error


def test_a_dry_run_counts_the_pdfs_the_emails_and_the_reminders_a_real_run_would_make(seller):
    from mailbox.models import OutboundMessage, Purpose
    from tests.factories import make_invoice
    from tests.mailbox.helpers import sent_invoice

    # given: an invoice issued today (no PDF, not e-mailed yet), one sent long ago and 15 days overdue
    make_invoice(status="issued")
    late = sent_invoice(issue_date=dt.date(2025, 1, 30), amount=Decimal("1000.00"))
    day = late.due_date + dt.timedelta(days=15)

    # when
    out = StringIO()
    call_command("cycle", "daily", "--dry-run", "--date", f"{day:%d/%m/%Y}", stdout=out)

    # then: each count is said, nothing was written nor sent
    text = out.getvalue()
    assert "[—  ] PDF des factures émises — PDF à écrire : 1 ; simulation : rien n'est écrit" in text
    assert "[—  ] Envoi des factures — e-mails à envoyer : 1 ; simulation" in text
    [reminders] = [line for line in text.splitlines() if "[—  ] Relances — " in line]
    assert "relances dues : 1" in reminders
    assert "suspendues : 0" in reminders
    assert "(simulation) un vrai cycle ferait : factures créées : 0, PDF à écrire : 1, " in text
    assert "e-mails à envoyer : 1, relances dues : 1" in text
    assert Invoice.objects.exclude(pdf_path="").count() == 0
    assert not OutboundMessage.objects.filter(purpose__in=[Purpose.REMINDER, Purpose.INVOICE]).exclude(
        invoice=late, purpose=Purpose.INVOICE
    )
