"""``health``: each part of the machine, exit code 0 only when nothing is down."""

import datetime as dt
import json
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from syaga.core.schedules import schedules_sync
from syaga.ops.health import FAIL, NOT_CONFIGURED, OK, health_report
from tests.banking.qonto_stub import QontoStub
from tests.factories import UserFactory
from tests.mailbox.conftest import SmtpHandler, free_port
from tests.timetracking.clockify_stub import ClockifyStub

pytestmark = pytest.mark.django_db


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
