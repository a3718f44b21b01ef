"""What the later tiles read, made through the apps' own services: time entries of today, client replies of
this week (one of them a dispute), and a recorded cycle with a successful, a failed and an unconfigured step.
Shared by the first page's tests and its browser test."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from invoicing.models.invoice import Status
from mailbox.services.inbox import inbound_store
from syaga.core.dates import today
from syaga.ops.models import CycleRun, CycleStep, RunStatus, StepStatus
from tests.factories import ClientFactory, make_invoice
from tests.mailbox.helpers import reply
from tests.timetracking.helpers import make_entry


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def todays_time(day: dt.date | None = None, *, prefix: str = "") -> None:
    """2 h FACTURABLE (a client without a contract), 1 h INTERNE (the firm itself, no description),
    one entry without a project: 3 h, two-thirds billable."""
    day = day or today()
    make_entry(
        local(day, 0, 10), minutes=90, consultant=f"{prefix}Marie Curie", client=f"{prefix}Garage Martin",
        project="Audit", description="Audit réseau",
    )  # fmt: skip
    make_entry(
        local(day, 0, 20), minutes=30, consultant=f"{prefix}Marie Curie", client=f"{prefix}Garage Martin",
        project="", description="Appel",
    )  # fmt: skip
    make_entry(
        local(day, 0, 30), minutes=60, consultant=f"{prefix}Jean Dupont", client="SYAGA", project="Veille",
        description="",
    )  # fmt: skip


def weeks_mail(*, n: int = 0) -> None:
    """An invoice e-mailed to its client, who disputes it (formal notice: urgency 5) and says thanks."""
    client = ClientFactory(name=f"Durand {n} SAS", invoice_emails=f"compta{n}@durand.fr")
    invoice = make_invoice(client=client, amounts=(Decimal("500.00"),), status=Status.SENT)
    inbound_store(
        reply(
            subject=f"RE: Facture {invoice.number}",
            sender=f"compta{n}@durand.fr",
            message_id=f"<dispute-{n}@durand.fr>",
            body="Nous refusons de payer cette facture, notre avocat vous écrira.",
        )
    )
    inbound_store(
        reply(
            subject=f"RE: Facture {invoice.number}",
            sender=f"compta{n}@durand.fr",
            message_id=f"<ack-{n}@durand.fr>",
            body="Bien reçu, merci.",
        )
    )


def recorded_cycle(day: dt.date | None = None, *, dry_run: bool = False) -> CycleRun:
    """A daily cycle as ``cycle_run`` records it: recurring invoices made, Qonto not configured, matching
    failed."""
    day = day or today()
    start = local(day, 7)
    run = CycleRun.objects.create(
        kind="daily",
        day=day,
        dry_run=dry_run,
        status=RunStatus.FAILED,
        holder="machine:1234",
        started_at=start,
        finished_at=start + dt.timedelta(minutes=2),
    )
    steps = [
        ("recurring", "Factures récurrentes", StepStatus.OK, {"factures créées": 3}, "", ""),
        (
            "qonto",
            "Synchronisation Qonto",
            StepStatus.NOT_CONFIGURED,
            {},
            "Qonto non configuré (QONTO_LOGIN manquant)",
            "",
        ),
        (
            "match",
            "Rapprochement des paiements",
            StepStatus.FAILED,
            {},
            "",
            "OperationalError: database is locked",
        ),
    ]
    for position, (code, label, status, counts, message, error) in enumerate(steps, start=1):
        CycleStep.objects.create(
            run=run,
            position=position,
            code=code,
            label=label,
            status=status,
            started_at=start,
            finished_at=start + dt.timedelta(seconds=position),
            counts=counts,
            message=message,
            error=error,
        )
    return run
