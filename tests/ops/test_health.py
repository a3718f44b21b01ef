"""``health``: each part of the machine, exit code 0 only when nothing is down."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task

from syaga.core.schedules import schedules_sync
from syaga.ops.health import FAIL, NOT_CONFIGURED, OK, health_report
from tests.banking.qonto_stub import QontoStub
from tests.factories import UserFactory
from tests.mailbox.conftest import SmtpHandler, dovecot, free_port  # noqa: F401 - the dovecot fixture
from tests.ops.clusters import cluster_start, clusters_stop, redis_answers
from tests.timetracking.clockify_stub import ClockifyStub

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def approvers(*names):
    for name in names:
        UserFactory(username=name).user_permissions.add(Permission.objects.get(codename="approve_invoice"))


def status_of(report, name) -> tuple[str, str]:
    for check in report["checks"]:
        if check["name"] == name:
            return check["status"], check["detail"]
    raise AssertionError(f"no check {name!r} in {[c['name'] for c in report['checks']]}")


def test_a_well_set_machine_is_all_well(seller):
    # given: the schedules declared, two approvers, Qonto not configured
    schedules_sync()
    approvers("anne", "bruno")
    # when
    out = StringIO()
    call_command("health", stdout=out)
    # then
    text = out.getvalue()
    assert "[ok] base de données" in text
    assert "[--] Qonto : pas d'identifiants Qonto" in text
    assert text.rstrip().endswith("tout va bien")


def test_no_cluster_taking_the_work_is_down_and_named(seller):
    schedules_sync()
    approvers("anne", "bruno")
    Schedule.objects.filter(name="syaga:qonto-sync").update(next_run=timezone.now() - dt.timedelta(hours=2))
    report = health_report()
    assert report["ok"] is False
    status, detail = status_of(report, "cluster django-q2")
    assert status == FAIL
    assert "« syaga:qonto-sync » aurait dû partir" in detail


def test_a_failed_last_run_is_down_with_its_error(seller):
    schedules_sync()
    approvers("anne", "bruno")
    now = timezone.now()
    task = Task.objects.create(
        id="abc123",
        name="qonto",
        func="banking.tasks.qonto_sync_and_match",
        started=now,
        stopped=now,
        success=False,
        result="QontoAuthError: 401 Unauthorized\nTraceback…",
    )
    Schedule.objects.filter(name="syaga:qonto-sync").update(task=task.id)
    status, detail = status_of(health_report(), "dernière exécution de qonto-sync")
    assert status == FAIL
    assert detail.endswith(": QontoAuthError: 401 Unauthorized")


def test_four_eyes_impossible_with_one_approver_fails_the_check(seller):
    schedules_sync()
    approvers("seul")
    with pytest.raises(CommandError, match="validation à quatre yeux"):
        call_command("health", stdout=StringIO())


@pytest.mark.parametrize(("good_key", "expected"), [(True, OK), (False, FAIL)])
def test_qonto_is_reached_with_the_configured_credentials(httpserver, settings, good_key, expected):
    stub = QontoStub(httpserver)
    stub.configure(settings)
    if not good_key:
        settings.QONTO_SECRET_KEY = "wrong-key"
    status, detail = status_of(health_report(), "Qonto")
    assert status == expected, detail


def test_json_output_is_machine_readable(seller):
    schedules_sync()
    approvers("anne", "bruno")
    out = StringIO()
    call_command("health", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is True
    assert {c["status"] for c in report["checks"]} <= {OK, NOT_CONFIGURED, "attention"}


@pytest.mark.parametrize(("good_key", "expected"), [(True, OK), (False, FAIL)])
def test_clockify_is_reached_with_the_configured_key(httpserver, settings, good_key, expected):
    stub = ClockifyStub(httpserver)
    stub.add_user("Anne Martin", "anne@syaga.fr")
    stub.configure(settings)
    if not good_key:
        settings.CLOCKIFY_API_KEY = "wrong-key"
    status, detail = status_of(health_report(), "Clockify")
    assert status == expected, detail


def test_the_smtp_server_is_reached_for_real(settings):
    # given: a real SMTP server (aiosmtpd) and one address where nothing listens
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "mailbox.backends.SmtpEmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        assert status_of(health_report(), "SMTP")[0] == OK
    finally:
        controller.stop()
    settings.EMAIL_PORT = free_port()
    assert status_of(health_report(), "SMTP")[0] == FAIL


def test_an_edit_behind_the_applications_back_is_down(seller):
    from django.db import connection

    from tests.factories import make_invoice

    invoice = make_invoice(status="issued")
    assert status_of(health_report(), "intégrité des factures")[0] == OK
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL's trigger refuses the raw edit itself")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE invoicing_invoice SET subject = 'autre' WHERE id = %s", [invoice.pk])
    status, detail = status_of(health_report(), "intégrité des factures")
    assert status == FAIL
    assert invoice.number in detail


def test_the_inbox_is_checked_even_when_no_smtp_server_is_configured(settings):
    # given: no sending server (a local run writes its e-mails as files), an inbox URL where nothing answers
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = "/srv/syaga/var/mail"
    settings.MAIL_AUTH = "password"
    settings.IMAP_URL = f"imap://billing:secret@127.0.0.1:{free_port()}/INBOX"
    settings.IMAP_FOLDERS = []

    # when
    report = health_report()

    # then: each check stands on its own
    assert status_of(report, "SMTP") == (
        NOT_CONFIGURED,
        "pas de serveur d'envoi (EMAIL_URL) : e-mails écrits dans /srv/syaga/var/mail",
    )
    status, detail = status_of(report, "IMAP")
    assert status == FAIL, detail


@pytest.mark.usefixtures("dovecot")
def test_a_readable_inbox_is_well_without_smtp(settings):
    # given: a real IMAP server (Dovecot), no sending server
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.MAIL_AUTH = "password"

    # when
    status, detail = status_of(health_report(), "IMAP")

    # then
    assert (status, detail) == (OK, "billing@127.0.0.1 / INBOX lisible")


def test_the_archive_disk_is_measured_before_its_folder_exists(settings, tmp_path):
    # given: a PDF folder not created yet, under a var/ that does not exist either
    folder = tmp_path / "srv" / "factures" / "pdf"
    settings.INVOICE_PDF_DIR = str(folder)
    settings.VAR_DIR = tmp_path / "absent"

    # when
    status, detail = status_of(health_report(), "espace disque des archives")

    # then: the disk it will be created on is measured (the nearest existing parent)
    assert status in (OK, FAIL)
    assert re.fullmatch(
        rf"\d+,\d Go libres sous {re.escape(str(tmp_path))} \({re.escape(str(folder))} pas encore créé\)(.*)",
        detail,
    ), detail


def test_the_orm_broker_is_named_and_a_cluster_that_finished_a_task_lately_is_alive(settings):
    # given: the ORM broker, a task finished five minutes ago by a cluster
    settings.Q_BROKER = "orm"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    now = timezone.now()
    Task.objects.create(
        id="t1",
        name="t1",
        func="math.floor",
        started=now,
        stopped=now - dt.timedelta(minutes=5),
        success=True,
    )

    # when
    status, detail = status_of(health_report(), "file d'attente django-q2")

    # then
    assert status == OK
    assert detail.startswith(
        "ORM (la base de données du projet) : cluster en vie, dernière tâche terminée le "
    )


def test_the_orm_broker_without_any_task_done_asks_whether_a_cluster_runs(settings):
    settings.Q_BROKER = "orm"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}

    status, detail = status_of(health_report(), "file d'attente django-q2")

    assert status == "attention"
    assert "aucune tâche terminée encore jamais, un cluster tourne-t-il ?" in detail


def test_tasks_waiting_in_the_orm_broker_with_nobody_taking_them_are_down(settings):
    # given: a task queued half an hour ago that no cluster took
    settings.Q_BROKER = "orm"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    OrmQ.objects.create(key="syaga", payload="x", lock=timezone.now() - dt.timedelta(minutes=30))

    # when
    status, detail = status_of(health_report(), "file d'attente django-q2")

    # then
    assert status == FAIL
    assert "1 tâche(s) en attente depuis plus de 20 minutes, aucun cluster ne les prend" in detail


def _health_in_a_process(env) -> dict:
    done = subprocess.run(
        [sys.executable, "manage.py", "health", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def test_the_redis_broker_reports_whether_a_cluster_is_alive(tmp_path):
    # given: the Redis broker (its own database and queue name), nothing else configured
    if not redis_answers():
        pytest.fail("no Redis on 127.0.0.1:6379 (the project's machines run one)")
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{tmp_path / 'vide.sqlite3'}",
        Q_BROKER="redis",
        REDIS_URL="redis://127.0.0.1:6379/13",
        Q_CLUSTER_NAME=f"health-{uuid.uuid4().hex[:8]}",
        Q_SYNC="false",
    )

    # when no cluster runs, then one does
    status, detail = status_of(_health_in_a_process(env), "file d'attente django-q2")
    cluster = cluster_start(env)
    try:
        deadline = time.monotonic() + 60
        while True:
            alive = status_of(_health_in_a_process(env), "file d'attente django-q2")
            if alive[0] == OK or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        clusters_stop(cluster)

    # then
    assert (status, detail) == (
        FAIL,
        "Redis 127.0.0.1:6379/13 : aucun cluster en vie (`manage.py qcluster`, ou `make run`)",
    )
    assert alive[0] == OK, alive
    assert alive[1].startswith("Redis 127.0.0.1:6379/13 : 1 cluster(s) en vie : ")
    assert f"(pid {cluster.pid})" in alive[1]
