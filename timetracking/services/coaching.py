"""Coaching reminders (« rappels 15 min / 1 h / quotidien »): stored for each consultant, shown in the admin,
delivered by e-mail once a sender is registered.

- every 15 minutes (:func:`coaching_now`): a timer running for more than N hours; within working hours, no
  timer for more than M minutes (counted from the end of the last entry, or from the start of the current
  working range: the lunch break is not idleness). Idleness is judged only on a fresh Clockify read;
- every hour (:func:`coaching_hourly`): the day so far, billable share and revenue equivalent against the
  target;
- every evening (:func:`coaching_daily_report`): hours per category and client, revenue equivalent,
  efficiency, entries without a project or description.

Each reminder has a key (the timer, the idle gap, the hour, the day), unique in the database: running the
coaching again never repeats one. Delivery: the mail engine registers a function with
:func:`reminder_sender_register` (``send(reminder)`` raising on failure); :func:`reminders_deliver` hands it
each undelivered reminder and marks it delivered. Until then reminders stay stored and visible.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from syaga.core.money import format_eur
from timetracking.conf import idle_seconds, timer_max_seconds, working_time
from timetracking.display import format_hours, format_share
from timetracking.models import Consultant, Reminder, ReminderKind
from timetracking.selectors import (
    CATEGORY_SHORT,
    consultant_day_report,
    day_figures,
    last_activity_end,
    last_sync_at,
    running_timers,
)

log = logging.getLogger(__name__)

# Idleness is only judged when Clockify was read this recently (else the absence of a timer is ours).
FRESH_SYNC = dt.timedelta(minutes=35)

_senders: list[Callable[[Reminder], None]] = []


def reminder_sender_register(send: Callable[[Reminder], None]) -> None:
    """Register how reminders reach people (the mail engine, from its wiring): ``send(reminder)`` sends
    ``reminder.subject``/``reminder.body`` to ``reminder.consultant.email`` and raises when it cannot."""
    if send not in _senders:
        _senders.append(send)


def reminder_sender_unregister(send: Callable[[Reminder], None]) -> None:
    if send in _senders:
        _senders.remove(send)


def reminders_deliver(*, send: Callable[[Reminder], None] | None = None, limit: int | None = None) -> int:
    """Hand every undelivered reminder (to a consultant with an e-mail) to ``send`` (default: the registered
    sender), oldest first, marking each delivered once sent. A failure stops there; the rest waits."""
    send = send or (_senders[-1] if _senders else None)
    if send is None:
        return 0
    pending = (
        Reminder.objects.filter(delivered_at__isnull=True)
        .exclude(consultant__email="")
        .select_related("consultant")
        .order_by("at", "pk")
    )
    if limit is not None:
        pending = pending[:limit]
    delivered = 0
    for reminder in pending:
        send(reminder)
        Reminder.objects.filter(pk=reminder.pk, delivered_at__isnull=True).update(delivered_at=timezone.now())
        delivered += 1
    return delivered


def _store(reminders: list[Reminder]) -> list[Reminder]:
    """Save the reminders whose key is new; returns those."""
    if not reminders:
        return []
    with transaction.atomic():
        known = set(Reminder.objects.filter(key__in=[r.key for r in reminders]).values_list("key", flat=True))
        fresh = []
        for reminder in reminders:
            if reminder.key not in known:
                known.add(reminder.key)
                fresh.append(reminder)
        Reminder.objects.bulk_create(fresh, ignore_conflicts=True)
    return fresh


def _hm(instant: dt.datetime) -> str:
    return f"{timezone.localtime(instant):%H:%M}"


def coaching_now(*, now: dt.datetime | None = None) -> list[Reminder]:
    """The 15-minute checks: timers running too long, and (in working time) no timer for too long."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    working = working_time()
    limit = timer_max_seconds()
    reminders = []
    running_by_consultant = {}
    for entry in running_timers():
        running_by_consultant[entry.consultant_id] = entry
        elapsed = int((now - entry.start).total_seconds())
        if elapsed < limit or not entry.consultant.active:
            continue
        what = entry.project or entry.description or "sans projet"
        reminders.append(
            Reminder(
                consultant=entry.consultant,
                kind=ReminderKind.TIMER_TOO_LONG,
                key=f"timer:{entry.clockify_id or entry.pk}:{entry.start.isoformat()}",
                at=now,
                for_date=local.date(),
                subject=f"Chrono en cours depuis {format_hours(elapsed)}",
                body=(
                    f"Bonjour {entry.consultant},\n\nVotre chrono « {what} » tourne depuis "
                    f"{_hm(entry.start)}, soit {format_hours(elapsed)} (au-delà de {limit // 3600} h). "
                    "S'il a été oublié, arrêtez-le et corrigez l'heure de fin dans Clockify."
                ),
                data={"entry": entry.pk, "elapsed_seconds": elapsed},
            )
        )
    current_range = working.range_at(local)
    synced = last_sync_at()
    if current_range is not None and synced is not None and now - synced <= FRESH_SYNC:
        range_start = timezone.make_aware(dt.datetime.combine(local.date(), current_range[0]))
        idle_limit = idle_seconds()
        for consultant in Consultant.objects.filter(active=True):
            if consultant.pk in running_by_consultant:
                continue
            last_end = last_activity_end(consultant.pk, now)
            since = max(last_end, range_start) if last_end else range_start
            idle = int((now - since).total_seconds())
            if idle < idle_limit:
                continue
            reminders.append(
                Reminder(
                    consultant=consultant,
                    kind=ReminderKind.NO_TIMER,
                    key=f"idle:{consultant.pk}:{since.isoformat()}",
                    at=now,
                    for_date=local.date(),
                    subject=f"Aucun chrono depuis {_hm(since)}",
                    body=(
                        f"Bonjour {consultant},\n\nAucun chrono ne tourne depuis {_hm(since)} "
                        f"({format_hours(idle)}). Pensez à lancer Clockify sur ce que vous faites, ou à "
                        "saisir le temps passé."
                    ),
                    data={"since": since.isoformat(), "idle_seconds": idle},
                )
            )
    return _store(reminders)


def _categories_text(figures: dict) -> str:
    return (
        ", ".join(
            f"{c['label'].lower()} {format_hours(c['seconds'])}"
            for c in figures["categories"]
            if c["seconds"]
        )
        or "aucune saisie"
    )


def coaching_hourly(*, now: dt.datetime | None = None) -> list[Reminder]:
    """The hourly point for each active consultant, on working days within working hours."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    working = working_time()
    if not working.is_working_day(local.date()) or not (working.day_start <= local.time() <= working.day_end):
        return []
    reminders = []
    consultants = list(Consultant.objects.filter(active=True))
    for consultant in consultants:
        figures = day_figures(local.date(), consultant_id=consultant.pk, now=now)
        reminders.append(
            Reminder(
                consultant=consultant,
                kind=ReminderKind.HOURLY_PROGRESS,
                key=f"hourly:{consultant.pk}:{local:%Y-%m-%dT%H}",
                at=now,
                for_date=local.date(),
                subject=(
                    f"Point de {local:%H} h : {format_hours(figures['total_seconds'])}, "
                    f"{format_share(figures['billable_share'])} facturable"
                ),
                body=(
                    f"Bonjour {consultant},\n\nAujourd'hui à {local:%H:%M} : "
                    f"{format_hours(figures['total_seconds'])} saisies ({_categories_text(figures)}).\n"
                    f"Part facturable : {format_share(figures['billable_share'])}.\n"
                    f"Équivalent chiffre d'affaires : {format_eur(figures['revenue'])} HT "
                    f"(temps facturable {format_eur(figures['revenue_facturable'])}, part des forfaits "
                    f"{format_eur(figures['revenue_flat_share'])}) pour un objectif de "
                    f"{format_eur(figures['target'])} HT."
                ),
                data=_figures_data(figures),
            )
        )
    return _store(reminders)


def _figures_data(figures: dict) -> dict:
    return {
        "total_seconds": figures["total_seconds"],
        "categories": {c["code"]: c["seconds"] for c in figures["categories"]},
        "billable_share": str(figures["billable_share"]) if figures["billable_share"] is not None else None,
        "revenue": str(figures["revenue"]),
        "revenue_facturable": str(figures["revenue_facturable"]),
        "revenue_flat_share": str(figures["revenue_flat_share"]),
        "target": str(figures["target"]),
        "incomplete": figures["incomplete_count"],
    }


def coaching_daily_report(*, day: dt.date | None = None, now: dt.datetime | None = None) -> list[Reminder]:
    """The day's report for each active consultant who worked that day or was expected to."""
    now = now or timezone.now()
    day = day or timezone.localtime(now).date()
    working = working_time()
    reminders = []
    for consultant in Consultant.objects.filter(active=True):
        report = consultant_day_report(consultant, day, now=now)
        if not report["total_seconds"] and not working.is_working_day(day):
            continue
        lines = [f"Bonjour {consultant},", "", f"Votre journée du {day:%d/%m/%Y} :"]
        lines.append(f"- total : {format_hours(report['total_seconds'])} ({_categories_text(report)})")
        lines.append(f"- efficacité (facturable / total) : {format_share(report['billable_share'])}")
        lines.append(
            f"- équivalent chiffre d'affaires : {format_eur(report['revenue'])} HT pour un objectif de "
            f"{format_eur(report['target'])} HT"
        )
        if report["clients"]:
            lines += ["", "Par client :"]
            for row in report["clients"]:
                detail = ", ".join(
                    f"{CATEGORY_SHORT[code].lower()} {format_hours(seconds)}"
                    for code, seconds in row["categories"].items()
                    if seconds
                )
                lines.append(f"- {row['name']} : {format_hours(row['seconds'])} ({detail})")
        if report["incomplete"]:
            lines += ["", "À compléter dans Clockify (sans projet ou sans description) :"]
            for e in report["incomplete"]:
                lines.append(
                    f"- {_hm(e.start)} {format_hours(e.seconds)} – {e.project or '(sans projet)'} – "
                    f"{e.description or '(sans description)'}"
                )
        data = _figures_data(report)
        data["clients"] = [{"name": r["name"], "seconds": r["seconds"]} for r in report["clients"]]
        data["incomplete_entries"] = [e.pk for e in report["incomplete"]]
        reminders.append(
            Reminder(
                consultant=consultant,
                kind=ReminderKind.DAILY_REPORT,
                key=f"daily:{consultant.pk}:{day.isoformat()}",
                at=now,
                for_date=day,
                subject=(
                    f"Rapport du {day:%d/%m/%Y} : {format_hours(report['total_seconds'])}, "
                    f"efficacité {format_share(report['billable_share'])}"
                ),
                body="\n".join(lines),
                data=data,
            )
        )
    return _store(reminders)
