"""The firm's day, in order: each step runs, records what it did, and a failure stops nothing else.

A cycle is a list of :class:`Step`. Each step calls one service of one app and returns its counts; an
exception is recorded as the step's error and the next steps still run (a step whose input failed says so).
An integration without credentials is « non configurée », not an error. Every service a step calls is
idempotent (a database constraint or a progress marker), so running a cycle twice the same day, or again
after it was killed, generates, sends and matches nothing twice.

Two cycles of one kind never run at once: a lease row per kind, renewed at each step; a holder killed with
``kill -9`` leaves a lease that expires (or that the same machine sees is dead) and the next run takes it.
With ``dry_run`` every step runs inside a transaction that is rolled back, and steps that talk to the
outside world (bank, mail) are skipped.

This module is the top floor: it imports every app; no app imports it.
"""

import datetime as dt
import logging
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from banking.clients.qonto import QontoConfigError
from banking.services.allocation import payments_match
from banking.services.overdue import overdue_alerts_raise
from banking.services.qonto_sync import qonto_sync
from invoicing.documents.pdf import invoices_pdf_ensure
from invoicing.models import Invoice
from invoicing.models.invoice import Origin
from invoicing.services.integrity import integrity_verify
from invoicing.services.recurring import recurring_generate
from invoicing.services.review import validate_pending
from mailbox.services.dunning import reminders_plan, reminders_send
from mailbox.services.inbox import inbox_poll
from mailbox.services.reports import daily_report_send
from mailbox.services.sending import invoices_send_pending, invoices_unsent
from reconciliation.services import reconcile
from syaga.core.dates import last_working_day
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur
from syaga.ops.models import CycleKind, CycleLease, CycleRun, CycleStep, RunStatus, StepStatus
from timetracking.clients.clockify import ClockifyConfigError
from timetracking.services.billing import timesheets_bill
from timetracking.services.clockify_sync import clockify_sync
from timetracking.services.coaching import coaching_now, reminders_deliver

log = logging.getLogger(__name__)
LEASE_SECONDS = 15 * 60  # renewed before each step; a step longer than this must renew itself


class NotConfigured(BusinessError):
    """The integration a step needs has no credentials: the step is « non configurée », not failed."""


class CycleBusy(BusinessError):
    """Another process runs this cycle right now."""


@dataclass
class StepContext:
    day: dt.date
    kind: str
    dry_run: bool
    results: dict[str, str] = field(default_factory=dict)  # code → StepStatus of the steps already run


@dataclass(frozen=True)
class Step:
    code: str
    label: str
    run: Callable[[StepContext], dict]
    inputs: tuple[str, ...] = ()  # a failed input is noted; the step still runs
    requires: tuple[str, ...] = ()  # a failed requirement means the step must not run (dunning a payer)
    external: bool = False  # talks to the outside world or writes files: skipped in a dry run
    when: Callable[[StepContext], bool] = lambda ctx: True
    # An external step's dry run: what it would do, read without writing a file or reaching the outside.
    preview: Callable[[StepContext], dict] | None = None


# --- the steps ---------------------------------------------------------------------------------------

# Documents older than this are not rendered nor sent by the cycle (the history import, long-closed years).
RECENT_DAYS = 35


def _clockify(ctx: StepContext) -> dict:
    try:
        report = clockify_sync()
    except ClockifyConfigError as exc:
        raise NotConfigured("Clockify non configuré (CLOCKIFY_API_KEY absent)") from exc
    counts = report.counts
    return {"saisies nouvelles": counts.created, "mises à jour": counts.updated}


def _coaching(ctx: StepContext) -> dict:
    return {"rappels": len(coaching_now()), "envoyés": reminders_deliver()}


def _recurring(ctx: StepContext) -> dict:
    report = recurring_generate(on=ctx.day)
    return {"factures créées": report.created, "périodes déjà facturées": report.skipped}


def _timesheets(ctx: StepContext) -> dict:
    report = timesheets_bill(month=ctx.day.replace(day=1))
    return {"factures de temps": len(report.bills), "total HT": format_eur(report.total_ht)}


def _validate(ctx: StepContext) -> dict:
    return {
        {"approved": "approuvées", "rejected": "rejetées", "review": "à valider"}[k]: v
        for k, v in validate_pending().counts().items()
    }


def _recent_issued():
    """Documents issued lately with a recent date (not the history, not a catch-up of last year's)."""
    since = timezone.now() - dt.timedelta(days=RECENT_DAYS)
    return (
        Invoice.objects.issued()
        .exclude(origin=Origin.IMPORTED)
        .filter(issued_at__gte=since, issue_date__gte=timezone.localdate(since))
    )


def _missing_pdfs():
    return _recent_issued().filter(pdf_path="")


def _documents(ctx: StepContext) -> dict:
    missing = list(_missing_pdfs().order_by("pk").values_list("pk", flat=True))
    report = invoices_pdf_ensure(invoice_ids=missing, split=False) if missing else None
    return {"PDF écrits": report.written if report else 0}


def _send(ctx: StepContext) -> dict:
    report = invoices_send_pending()
    return {
        "envoyés": len(report.flush.sent),
        "à réessayer": len(report.flush.retried),
        "refusés": len(report.refused),
        "à vérifier": len(report.flush.uncertain),
    }


def _documents_preview(ctx: StepContext) -> dict:
    return {"PDF à écrire": _missing_pdfs().count()}


def _send_preview(ctx: StepContext) -> dict:
    return {"e-mails à envoyer": invoices_unsent().count()}


def _qonto(ctx: StepContext) -> dict:
    try:
        report = qonto_sync()
    except QontoConfigError as exc:
        raise NotConfigured(
            "Qonto non configuré (QONTO_LOGIN et QONTO_SECRET_KEY, ou les identifiants OAuth)"
        ) from exc
    counts = report.transactions
    return {"comptes": len(report.accounts), "nouvelles": counts.created, "mises à jour": counts.updated}


MATCH_LABELS = {
    "matched": "rapprochés",
    "confirmed": "confirmés",
    "suggested": "suggérés",
    "unrecognised": "non reconnus",
    "no_invoice": "sans facture",
}


def _match(ctx: StepContext) -> dict:
    results = payments_match()
    counts: dict[str, int] = {"crédits examinés": len(results)}
    for result in results:
        label = MATCH_LABELS.get(result.status, result.status)
        counts[label] = counts.get(label, 0) + 1
    return counts


def _overdue(ctx: StepContext) -> dict:
    return {"alertes levées": len(overdue_alerts_raise(on=ctx.day))}


def _dunning(ctx: StepContext) -> dict:
    report = reminders_send(on=ctx.day)
    return {"relances envoyées": len(report.flush.sent), "relances en file": len(report.queued)}


def _dunning_preview(ctx: StepContext) -> dict:
    plan = reminders_plan(on=ctx.day)
    return {"relances dues": len(plan.due), "suspendues": len(plan.held)}


def _inbox(ctx: StepContext) -> dict:
    if not settings.IMAP_URL:
        raise NotConfigured("boîte de réception non configurée (IMAP_URL)")
    report = inbox_poll()
    folders = report.folders
    return {
        "messages lus": sum(f.fetched for f in folders),
        "enregistrés": sum(f.stored for f in folders),
        "mal formés": sum(f.malformed for f in folders),
    }


def _report(ctx: StepContext) -> dict:
    return {"rapport envoyé": 1 if daily_report_send(on=ctx.day) else 0}


def _integrity(ctx: StepContext) -> dict:
    report = integrity_verify()
    if not report.intact:
        detail = "; ".join(str(finding) for finding in report.findings[:5])
        raise BusinessError(f"{report.summary()} : {detail}")
    return {"documents intacts": report.documents, "PDF vérifiés": report.pdfs}


def _reconcile(ctx: StepContext) -> dict:
    """The database, the accounting software's latest export (when RECONCILE_OXYGEN_FILE names it) and the
    PDFs on disk; a discrepancy makes the step fail so that the first page and ``health`` show it."""
    oxygen = settings.RECONCILE_OXYGEN_FILE or None
    report = reconcile(oxygen_path=oxygen)
    if report.discrepancy_count:
        raise BusinessError(
            f"{report.discrepancy_count} écart(s), {report.score_text()} (rapport n° {report.pk})"
        )
    return {"documents": report.documents, "PDF lus": report.pdf_files or 0, "écarts": 0}


DAILY_STEPS: list[Step] = [
    Step("clockify", "Temps Clockify", _clockify, external=True),
    Step("coaching", "Rappels de saisie", _coaching, inputs=("clockify",), external=True),
    Step("recurring", "Factures récurrentes", _recurring),
    Step("validate", "Règles de validation", _validate, inputs=("recurring",)),
    Step(
        "documents",
        "PDF des factures émises",
        _documents,
        inputs=("validate",),
        external=True,
        preview=_documents_preview,
    ),
    Step("send", "Envoi des factures", _send, inputs=("documents",), external=True, preview=_send_preview),
    Step("qonto", "Synchronisation Qonto", _qonto, external=True),
    Step("match", "Rapprochement des paiements", _match, inputs=("qonto",)),
    Step("overdue", "Alertes d'impayés", _overdue, inputs=("match",)),
    # A reminder to a client whose payment was not matched would be wrong: no dunning after a failed match.
    Step(
        "dunning",
        "Relances",
        _dunning,
        requires=("qonto", "match"),
        external=True,
        preview=_dunning_preview,
    ),
    Step("inbox", "Boîte de réception", _inbox, external=True),
    Step("report", "Rapport du jour", _report, inputs=("send", "dunning", "inbox"), external=True),
]
WEEKLY_STEPS: list[Step] = [
    Step("integrity", "Intégrité des factures et des PDF", _integrity),
    Step("reconcile", "Rapprochement à trois voies", _reconcile),
]
MONTH_END_STEPS: list[Step] = [
    Step("clockify", "Temps Clockify", _clockify, external=True),
    Step("timesheets", "Facturation des temps du mois", _timesheets, inputs=("clockify",)),
    Step("validate", "Règles de validation", _validate, inputs=("timesheets",)),
]


def steps_for(kind: str) -> list[Step]:
    """The daily cycle is the firm's day; weekly and month-end are what those runs add (the schedules run
    the weekly one on Monday after the daily one, the month-end one on the last working day's evening)."""
    if kind == CycleKind.DAILY:
        return DAILY_STEPS
    if kind == CycleKind.WEEKLY:
        return WEEKLY_STEPS
    if kind == CycleKind.MONTH_END:
        return MONTH_END_STEPS
    raise BusinessError(f"cycle inconnu : {kind!r} (daily, weekly ou month-end)")


def is_last_working_day(day: dt.date) -> bool:
    """The month's last working day: Monday to Friday, French public holidays skipped (syaga.core.dates)."""
    return day == last_working_day(day.year, day.month)


# --- the lease ------------------------------------------------------------------------------------------


def _me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(holder: str) -> bool:
    """A holder on this machine whose process no longer exists (killed): its lease can be taken."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_take(kind: str, *, holder: str | None = None) -> str:
    """Take the cycle's lease, or raise CycleBusy naming who holds it. A conditional UPDATE: atomic."""
    holder = holder or _me()
    now = timezone.now()
    CycleLease.objects.get_or_create(kind=kind)
    current = CycleLease.objects.get(kind=kind)
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(holder=holder)
    if current.holder and _dead_here(current.holder):
        free |= Q(holder=current.holder)
    taken = CycleLease.objects.filter(free, kind=kind).update(
        holder=holder, until=now + dt.timedelta(seconds=LEASE_SECONDS)
    )
    if not taken:
        current.refresh_from_db()
        until = timezone.localtime(current.until)
        raise CycleBusy(f"le cycle {kind} tourne déjà ({current.holder}, jusqu'à {until:%H:%M})")
    return holder


def lease_renew(kind: str, holder: str) -> None:
    CycleLease.objects.filter(kind=kind, holder=holder).update(
        until=timezone.now() + dt.timedelta(seconds=LEASE_SECONDS)
    )


def lease_release(kind: str, holder: str) -> None:
    CycleLease.objects.filter(kind=kind, holder=holder).update(holder="", until=None)


# --- running --------------------------------------------------------------------------------------------


def _run_step(step: Step, ctx: StepContext) -> tuple[str, dict, str, str]:
    """(status, counts, message, error) of one step; never raises."""
    failed_inputs = [code for code in step.inputs if ctx.results.get(code) == StepStatus.FAILED]
    note = f"entrée en échec : {', '.join(failed_inputs)}. " if failed_inputs else ""
    failed_requirements = [code for code in step.requires if ctx.results.get(code) == StepStatus.FAILED]
    if failed_requirements:
        return StepStatus.SKIPPED, {}, f"non lancée : {', '.join(failed_requirements)} en échec", ""
    if not step.when(ctx):
        return StepStatus.SKIPPED, {}, note + "pas aujourd'hui", ""
    if ctx.dry_run and step.external:
        message = note + "simulation : rien n'est écrit ni échangé avec l'extérieur"
        if step.preview is None:
            return StepStatus.SKIPPED, {}, message, ""
        try:
            with transaction.atomic():
                counts = step.preview(ctx)
                transaction.set_rollback(True)
        except Exception as exc:  # a preview that cannot be read is said, the run goes on
            log.exception("cycle %s, preview of step %s failed", ctx.kind, step.code)
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return StepStatus.SKIPPED, {}, f"{message} ; aperçu impossible : {detail}", ""
        return StepStatus.SKIPPED, counts, message, ""
    try:
        with transaction.atomic():
            counts = step.run(ctx)
            if ctx.dry_run:
                transaction.set_rollback(True)
    except NotConfigured as exc:
        return StepStatus.NOT_CONFIGURED, {}, note + str(exc), ""
    except Exception as exc:  # a failing step is reported; the others still run
        log.exception("cycle %s, step %s failed", ctx.kind, step.code)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return StepStatus.FAILED, {}, note, detail
    return StepStatus.OK, counts, note.strip(), ""


def cycle_run(*, kind: str, day: dt.date, dry_run: bool = False, steps: list[Step] | None = None) -> CycleRun:
    """Run every step of the cycle for ``day`` in order, each recorded as it finishes."""
    steps = steps_for(kind) if steps is None else steps
    holder = lease_take(kind)
    runs_interrupted_mark()
    run = CycleRun.objects.create(
        kind=kind, day=day, dry_run=dry_run, holder=holder, started_at=timezone.now()
    )
    ctx = StepContext(day=day, kind=kind, dry_run=dry_run)
    try:
        for position, step in enumerate(steps, start=1):
            lease_renew(kind, holder)
            started = timezone.now()
            status, counts, message, error = _run_step(step, ctx)
            ctx.results[step.code] = status
            CycleStep.objects.create(
                run=run,
                position=position,
                code=step.code,
                label=step.label,
                status=status,
                started_at=started,
                finished_at=timezone.now(),
                counts=counts,
                message=message,
                error=error,
            )
    finally:
        run.status = RunStatus.FAILED if StepStatus.FAILED in ctx.results.values() else RunStatus.OK
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        lease_release(kind, holder)
    return run


def runs_interrupted_mark() -> int:
    """Runs left « en cours » by a process that no longer holds the lease (killed): marked interrupted."""
    stale = []
    for run in CycleRun.objects.filter(status=RunStatus.RUNNING):
        lease = CycleLease.objects.filter(kind=run.kind).first()
        if lease is None or lease.holder != run.holder:
            stale.append(run.pk)
    return CycleRun.objects.filter(pk__in=stale).update(
        status=RunStatus.INTERRUPTED, finished_at=timezone.now()
    )
