"""Time entries for tests, stored the way the API sync stores them (through ``entries_upsert``)."""

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from syaga.core.text import fold
from timetracking.models import Source, TimeEntry
from timetracking.services.entries import EntryRecord, entries_upsert

PARIS = ZoneInfo("Europe/Paris")
_ids = itertools.count(1)


def paris(year, month, day, hour=9, minute=0):
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)


def make_entry(
    start: dt.datetime,
    *,
    minutes: int | None = 60,
    seconds: int | None = None,
    consultant: str = "Jean Dupont",
    client: str = "Garage Martin",
    project: str = "Audit",
    task: str = "",
    description: str = "Travail",
    tags=(),
    running: bool = False,
) -> TimeEntry:
    duration = seconds if seconds is not None else minutes * 60
    record = EntryRecord(
        where="test",
        user_name=consultant,
        user_email=f"{fold(consultant).split()[0].lower()}@syaga.fr",
        clockify_user_id=f"user-{fold(consultant).replace(' ', '-').lower()}",
        clockify_id=f"{next(_ids):024x}",
        start=start,
        end=None if running else start + dt.timedelta(seconds=duration),
        duration_seconds=duration,
        running=running,
        client_name=client,
        project=project,
        task=task,
        description=description,
        tags=list(tags),
        billable=True,
    )
    entries_upsert(records=[record], source=Source.API)
    return TimeEntry.objects.get(clockify_id=record.clockify_id)
