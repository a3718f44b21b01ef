"""Storing time entries once, whatever brought them (the API or a CSV export).

An entry's identity is its Clockify id when the source gives one, else its consultant, the minute it started
(UTC) and its project (``natural_key``). An entry coming back is compared with the stored one: unchanged,
nothing is written; changed, the Clockify fields are replaced and the rules run again, while a person's
category override and the billing stay. A billed entry is never changed (it is counted as such). A CSV row
never overwrites an entry the API brought (the API's copy has the seconds and the id). Writes are batched:
one query per chunk to find what is stored, one bulk insert and one bulk update.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

from syaga.core.text import fold
from timetracking.models import Consultant, Source, TimeEntry
from timetracking.services.categorisation import (
    RuleBook,
    client_lookup,
    company_key,
    folded,
    local_day,
    rulebook_load,
)

LOOKUP_CHUNK = 500
# What a new version of an entry may change (the rest: category override, billing, are ours).
CLOCKIFY_FIELDS = (
    "clockify_id",
    "natural_key",
    "consultant_id",
    "client_id",
    "client_name",
    "project",
    "task",
    "description",
    "tags",
    "start",
    "end",
    "duration_seconds",
    "running",
    "billable",
)
LIMITS = {"client_name": 200, "project": 200, "task": 200}


@dataclass
class EntryRecord:
    """One entry as a source describes it, before it is stored."""

    where: str
    user_name: str
    start: dt.datetime
    end: dt.datetime | None
    duration_seconds: int
    user_email: str = ""
    clockify_user_id: str | None = None
    clockify_id: str | None = None
    running: bool = False
    client_name: str = ""
    project: str = ""
    task: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    billable: bool = False
    # The n-th row of its file with the same consultant, start minute and project (n > 1 is kept apart).
    occurrence: int = 1


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    billed_kept: int = 0  # changed at the source after billing: left as billed

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.billed_kept += other.billed_kept

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "billed_kept": self.billed_kept,
        }


def natural_key(consultant_id: int, start: dt.datetime, project: str, occurrence: int = 1) -> str:
    minute = start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")
    key = f"{consultant_id}|{minute}|{folded(project)[:200]}"
    return key if occurrence <= 1 else f"{key}#{occurrence}"


def _person_keys(record: EntryRecord) -> tuple[str | None, str, str]:
    return (
        record.clockify_user_id or None,
        (record.user_email or "").strip().lower(),
        fold(record.user_name),
    )


def consultants_resolve(records: list[EntryRecord]) -> list[int]:
    """The consultant id of each record: by Clockify user id, else e-mail, else name; created when new."""
    by_id, by_email, by_name = {}, {}, {}
    found_none = Consultant(email="")
    consultants = list(Consultant.objects.all())

    def remember(c: Consultant) -> None:
        if c.clockify_user_id:
            by_id[c.clockify_user_id] = c
        if c.email:
            by_email.setdefault(c.email.lower(), c)
        by_name.setdefault(fold(c.name), c)

    for c in consultants:
        remember(c)
    result = []
    for record in records:
        user_id, email, name = _person_keys(record)
        found = (
            (by_id.get(user_id) if user_id else None)
            or (by_email.get(email) if email else None)
            # By name only where no e-mail tells two people apart (an export without the Email column).
            or (
                by_name.get(name) if name and (not email or not by_name.get(name, found_none).email) else None
            )
        )
        if found is None:
            found = Consultant.objects.create(
                name=(record.user_name or email)[:200], email=email, clockify_user_id=user_id
            )
            remember(found)
        else:
            changed = []
            if user_id and not found.clockify_user_id:
                found.clockify_user_id = user_id
                changed.append("clockify_user_id")
            if email and not found.email:
                found.email = email
                changed.append("email")
            if changed:
                found.save(update_fields=changed)
                remember(found)
        result.append(found.pk)
    return result


def _values(record: EntryRecord, consultant_id: int, client_id: int | None) -> dict:
    return {
        "clockify_id": record.clockify_id or None,
        "natural_key": natural_key(consultant_id, record.start, record.project, record.occurrence),
        "consultant_id": consultant_id,
        "client_id": client_id,
        "client_name": record.client_name[: LIMITS["client_name"]],
        "project": record.project[: LIMITS["project"]],
        "task": record.task[: LIMITS["task"]],
        "description": record.description,
        "tags": list(record.tags),
        "start": record.start,
        "end": record.end,
        "duration_seconds": record.duration_seconds,
        "running": record.running,
        "billable": record.billable,
    }


def _chunks(values: list, size: int = LOOKUP_CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _stored(records_values: list[dict]) -> list[TimeEntry | None]:
    """The stored entry each record is, or None: by Clockify id, then by natural key (an entry without id
    from a CSV export is adopted by the API's copy of it)."""
    ids = sorted({v["clockify_id"] for v in records_values if v["clockify_id"]})
    by_id: dict[str, TimeEntry] = {}
    for chunk in _chunks(ids):
        by_id.update({e.clockify_id: e for e in TimeEntry.objects.filter(clockify_id__in=chunk)})
    keys = sorted(
        {v["natural_key"] for v in records_values if not (v["clockify_id"] and v["clockify_id"] in by_id)}
    )
    by_key: dict[str, list[TimeEntry]] = {}
    for chunk in _chunks(keys):
        for e in TimeEntry.objects.filter(natural_key__in=chunk).order_by("pk"):
            by_key.setdefault(e.natural_key, []).append(e)
    found = []
    taken: set[int] = set()
    for v in records_values:
        entry = by_id.get(v["clockify_id"]) if v["clockify_id"] else None
        if entry is None:
            candidates = [e for e in by_key.get(v["natural_key"], ()) if e.pk not in taken]
            if v["clockify_id"]:
                # An id only adopts an entry that has none (the same entry, imported from a CSV before).
                candidates = [e for e in candidates if not e.clockify_id]
            entry = candidates[0] if candidates else None
        if entry is not None:
            taken.add(entry.pk)
        found.append(entry)
    return found


def entries_upsert(*, records: list[EntryRecord], source: str, book: RuleBook | None = None) -> UpsertCounts:
    """Store these records (new ones created, changed ones updated, the rules run on both), in one
    transaction. Returns the counts."""
    counts = UpsertCounts()
    if not records:
        return counts
    with transaction.atomic():
        book = book or rulebook_load()
        clients = client_lookup()
        consultant_ids = consultants_resolve(records)
        values = [
            _values(r, cid, clients.get(company_key(r.client_name)) if r.client_name else None)
            for r, cid in zip(records, consultant_ids, strict=True)
        ]
        # The same entry twice in one batch (overlapping exports, one file given twice): the last one wins.
        last = {
            f"id:{v['clockify_id']}" if v["clockify_id"] else f"key:{v['natural_key']}": i
            for i, v in enumerate(values)
        }
        counts.unchanged += len(values) - len(last)
        values = [values[i] for i in sorted(last.values())]
        stored = _stored(values)
        now = timezone.now()
        new: list[TimeEntry] = []
        changed: list[TimeEntry] = []
        for v, entry in zip(values, stored, strict=True):
            if entry is None:
                entry = TimeEntry(source=source, override_category="", **v)
                _categorise(entry, book)
                entry.created_at = entry.updated_at = now
                new.append(entry)
                continue
            if source == Source.CSV and entry.source == Source.API:
                counts.unchanged += 1
                continue
            if v["clockify_id"] is None and entry.clockify_id:
                v["clockify_id"] = entry.clockify_id  # a CSV row never takes an id away
            diff = {name: value for name, value in v.items() if getattr(entry, name) != value}
            if not diff:
                counts.unchanged += 1
                continue
            if entry.invoice_id is not None:
                counts.billed_kept += 1
                continue
            for name, value in diff.items():
                setattr(entry, name, value)
            if source == Source.API:
                entry.source = Source.API
            _categorise(entry, book)
            entry.updated_at = now
            changed.append(entry)
        _insert(new)
        if changed:
            TimeEntry.objects.bulk_update(
                changed,
                [*CLOCKIFY_FIELDS, "source", "rule_category", "rule_id", "category", "updated_at"],
                batch_size=500,
            )
        counts.created += len(new)
        counts.updated += len(changed)
    return counts


def _insert(entries: list[TimeEntry]) -> None:
    """Insert new entries without ``bulk_create``'s per-value preparation, which costs more than the rest of
    a 12,000-row import: PostgreSQL streams them with ``COPY``, SQLite takes one ``executemany``. JSON goes as
    text (both accept it); datetimes are adapted as the backend's own field would (SQLite: UTC text)."""
    if not entries:
        return
    fields = [f for f in TimeEntry._meta.concrete_fields if not f.primary_key]
    ops = connection.ops
    postgres = connection.vendor == "postgresql"

    def adapter(f):
        if isinstance(f, models.JSONField):
            return lambda value, f=f: json.dumps(value, cls=f.encoder)
        if isinstance(f, models.DateTimeField) and not postgres:
            return ops.adapt_datetimefield_value
        return None

    adapters = [(f.attname, adapter(f)) for f in fields]
    rows = (
        tuple(adapt(getattr(e, name)) if adapt else getattr(e, name) for name, adapt in adapters)
        for e in entries
    )
    quote = ops.quote_name
    table = quote(TimeEntry._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if postgres:
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", list(rows))  # noqa: S608


def _categorise(entry: TimeEntry, book: RuleBook) -> None:
    verdict, rule_id = book.decide(
        client_id=entry.client_id,
        client_name=entry.client_name,
        project=entry.project,
        tags=entry.tags,
        description=entry.description,
        day=local_day(entry.start, book.tz),
    )
    entry.rule_category = verdict
    entry.rule_id = rule_id
    entry.category = entry.override_category or verdict
