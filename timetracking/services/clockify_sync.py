"""Getting Clockify time in through the API, incrementally: :func:`clockify_sync`.

For each user of the workspace: the entries that started since the user's progress marker (less a week, so
that entries edited after the fact come back), every page until ``Last-Page: true``, plus the running timer
(``in-progress=true``). They are stored with :func:`entries_upsert`; an entry of that window that Clockify no
longer has (deleted there) is deleted here unless it is billed. Each user's entries, deletions and marker are
written in one transaction: an interrupted run keeps what it finished, and a repeated run changes nothing.

Only work is stored: Clockify's breaks, holidays and time off (``type`` other than ``REGULAR``) are left out.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from syaga.core.dates import add_months
from timetracking.clients.clockify import (
    ClockifyClient,
    ClockifyError,
    client_from_settings,
    duration_seconds,
    instant,
)
from timetracking.models import ClockifySyncState, Source, TimeEntry
from timetracking.services.entries import EntryRecord, UpsertCounts, consultants_resolve, entries_upsert

log = logging.getLogger(__name__)

# Entries edited up to this long after they started are picked up again by the next runs.
RESYNC_OVERLAP = dt.timedelta(days=7)
# The API reads the window's start as wall-clock time in the user's zone (contract B2): the window is asked
# this much earlier, and an entry is deleted for being absent only from this much after its start.
WINDOW_SLACK = dt.timedelta(days=1)
WORK = "REGULAR"


@dataclass
class UserSync:
    user_id: str
    name: str
    since: dt.datetime
    read: int = 0
    not_work: int = 0
    running: bool = False
    deleted: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)


@dataclass
class SyncReport:
    workspace_id: str = ""
    users: list[UserSync] = field(default_factory=list)

    @property
    def counts(self) -> UpsertCounts:
        total = UpsertCounts()
        for user in self.users:
            total.add(user.counts)
        return total

    @property
    def deleted(self) -> int:
        return sum(u.deleted for u in self.users)

    @property
    def running(self) -> int:
        return sum(1 for u in self.users if u.running)

    def __str__(self) -> str:
        c = self.counts
        return (
            f"Clockify : {len(self.users)} utilisateur(s), {c.created} saisie(s) créée(s), "
            f"{c.updated} mise(s) à jour, {c.unchanged} inchangée(s), {self.deleted} supprimée(s), "
            f"{self.running} chrono(s) en cours"
        )


def first_window_start(now: dt.datetime) -> dt.datetime:
    """Without a marker: from the first day of last month (the month bill_timesheets bills next)."""
    first = add_months(timezone.localtime(now).date().replace(day=1), -1)
    return timezone.make_aware(dt.datetime.combine(first, dt.time.min))


def entry_record(data: dict, user: dict, *, now: dt.datetime) -> EntryRecord | None:
    """An :class:`EntryRecord` from a core-API time entry (hydrated), None for a break or time off."""
    if str(data.get("type") or WORK).upper() != WORK:
        return None
    interval = data.get("timeInterval") or {}
    start = instant(interval.get("start"))
    if start is None:
        raise ClockifyError(f"la saisie Clockify {data.get('id')} n'a pas de début")
    end = instant(interval.get("end"))
    seconds = duration_seconds(interval.get("duration"))
    running = end is None
    if running:
        seconds = max(0, int((now - start).total_seconds()))
    elif seconds is None:
        seconds = int((end - start).total_seconds())
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    task = data.get("task") if isinstance(data.get("task"), dict) else {}
    tags = [t.get("name", "") for t in data.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    return EntryRecord(
        where=f"saisie Clockify {data.get('id')}",
        user_name=str(user.get("name") or ""),
        user_email=str(user.get("email") or ""),
        clockify_user_id=str(data.get("userId") or user.get("id") or "") or None,
        clockify_id=str(data["id"]),
        start=start,
        end=end,
        duration_seconds=seconds,
        running=running,
        client_name=str(project.get("clientName") or data.get("clientName") or ""),
        project=str(project.get("name") or ""),
        task=str(task.get("name") or ""),
        description=str(data.get("description") or ""),
        tags=tags,
        billable=bool(data.get("billable")),
    )


def _user_sync(
    client: ClockifyClient, user: dict, *, since: dt.datetime | None, now: dt.datetime
) -> UserSync:
    workspace_id = client.workspace_id
    user_id = str(user["id"])
    state = ClockifySyncState.objects.filter(workspace_id=workspace_id, clockify_user_id=user_id).first()
    if since is not None:
        start = since
    elif state and state.synced_through:
        start = state.synced_through - RESYNC_OVERLAP
    else:
        start = first_window_start(now)
    report = UserSync(
        user_id=user_id, name=str(user.get("name") or user.get("email") or user_id), since=start
    )
    by_id: dict[str, dict] = {}
    # Asked a day early: the server reads the instant as wall-clock time in the user's zone (up to ±14 h).
    for data in client.iter_time_entries(user_id, start=start - WINDOW_SLACK):
        by_id[str(data["id"])] = data
    running = client.running_entry(user_id)
    if running:
        by_id[str(running["id"])] = running  # the timer as it runs now wins over the list's copy
    records = []
    for data in by_id.values():
        record = entry_record(data, user, now=now)
        if record is None:
            report.not_work += 1
        else:
            records.append(record)
            report.running = report.running or record.running
    report.read = len(by_id)
    consultant_id = consultants_resolve(
        [
            EntryRecord(
                where=f"utilisateur Clockify {user_id}",
                user_name=str(user.get("name") or ""),
                user_email=str(user.get("email") or ""),
                clockify_user_id=user_id,
                start=now,
                end=None,
                duration_seconds=0,
            )
        ]
    )[0]
    # Timers seen running before that are neither running nor in the window now: ask for them one by one.
    stale = (
        TimeEntry.objects.filter(consultant_id=consultant_id, running=True, source=Source.API)
        .exclude(clockify_id__in=list(by_id))
        .values_list("clockify_id", flat=True)
    )
    gone = []
    for clockify_id in list(stale):
        data = client.time_entry(clockify_id)
        if data is None:
            gone.append(clockify_id)
            continue
        by_id[clockify_id] = data
        record = entry_record(data, user, now=now)
        if record is None:
            gone.append(clockify_id)
        else:
            records.append(record)
    with transaction.atomic():
        report.counts = entries_upsert(records=records, source=Source.API)
        absent = (
            TimeEntry.objects.filter(
                consultant_id=consultant_id,
                source=Source.API,
                clockify_id__isnull=False,
                invoice__isnull=True,
                start__gte=start + WINDOW_SLACK,
            )
            .exclude(clockify_id__in=[r.clockify_id for r in records])
            .values_list("pk", flat=True)
        )
        doomed = list(absent)
        doomed += list(
            TimeEntry.objects.filter(clockify_id__in=gone, invoice__isnull=True).values_list("pk", flat=True)
        )
        report.deleted = TimeEntry.objects.filter(pk__in=doomed).delete()[0] if doomed else 0
        state = state or ClockifySyncState(workspace_id=workspace_id, clockify_user_id=user_id)
        state.consultant_id = consultant_id
        state.synced_through = now
        state.last_run_at = now
        state.entries_seen = report.read
        state.save()
    return report


def clockify_sync(
    *, client: ClockifyClient | None = None, since: dt.datetime | None = None, now=None
) -> SyncReport:
    """Bring every workspace user's entries in (see the module). Raises ClockifyConfigError without a key,
    ClockifyAuthError when the key is refused, ClockifyError otherwise; what was done before stays."""
    client = client or client_from_settings()
    now = now or timezone.now()
    report = SyncReport(workspace_id=client.workspace_id)
    for user in client.workspace_users():
        report.users.append(_user_sync(client, user, since=since, now=now))
    log.info("%s", report)
    return report
