"""Importing Clockify's "Detailed report" CSV exports: :func:`clockify_csv_import`.

Columns are found by name, never by position, in English or French (``Project``/``Projet``,
``Billable``/``Facturable`` with Yes/No/Oui/Non, ``Start Date``/``Date de début``, ``Task``/``Activity``/
``Tâche``…); columns the import does not need (group, rates, amounts) are ignored. Dates follow the
exporting user's settings: ``MM/DD/YYYY``, ``DD/MM/YYYY``, ``DD.MM.YYYY`` or ISO; the order of a slashed date
is found from the file (a day above 12 tells) or given with ``date_format``. Times are 12-hour (``10:23 AM``,
``10:23:52 PM``) or 24-hour, local to ``tz`` (the firm's time zone by default). Durations read ``HH:MM:SS``,
``H:MM`` or decimal hours with a point or a comma.

All or nothing: every file is read and checked before anything is written, the first problem stops the
import with ``<fichier>, ligne N : <raison>`` (in French, for the user), and the whole batch is written in
one transaction. Pauses and time off (``Type`` Break / Time off) are not work: they are counted and left out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from invoicing.services.history_import.dialect import read_source
from syaga.core.errors import InputError
from syaga.core.money import quantize
from syaga.core.text import header_key
from timetracking.display import format_hours
from timetracking.models import Source
from timetracking.services.categorisation import folded
from timetracking.services.entries import EntryRecord, UpsertCounts, entries_upsert

ALIASES = {
    "project": ("Project", "Projet"),
    "client": ("Client",),
    "description": ("Description",),
    "task": ("Task", "Activity", "Tâche", "Activité"),
    "user": ("User", "Utilisateur"),
    "email": ("Email", "E-mail", "Courriel"),
    "tags": ("Tags", "Étiquettes", "Étiquette", "Tag"),
    "type": ("Type",),
    "billable": ("Billable", "Facturable"),
    "start_date": ("Start Date", "Date de début", "Date début"),
    "start_time": ("Start Time", "Heure de début", "Heure début"),
    "end_date": ("End Date", "Date de fin", "Date fin"),
    "end_time": ("End Time", "Heure de fin", "Heure fin"),
    "duration_h": ("Duration (h)", "Durée (h)"),
    "duration_decimal": ("Duration (decimal)", "Durée (décimal)", "Durée (décimale)"),
    "id": ("ID", "Id", "Time entry ID", "Identifiant"),
}
KEY_FIELD = {header_key(alias): name for name, aliases in ALIASES.items() for alias in aliases}
DELIMITERS = (",", ";", "\t")
DATE_FORMATS = ("auto", "mdy", "dmy")
_type_key = lru_cache(maxsize=64)(header_key)
YES = {"yes", "oui", "true", "vrai", "1", "y", "o"}
NO = {"no", "non", "false", "faux", "0", "n", ""}
NOT_WORK = {"break", "pause", "timeoff", "conge", "conges", "absence", "holiday", "ferie"}
# Durations read against the interval: beyond this, the date format was probably misread.
DURATION_TOLERANCE = 120

_SLASHED = re.compile(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})")
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_TIME = re.compile(r"(\d{1,2})[:h](\d{2})(?::(\d{2}))?\s*(?:([AaPp])\.?\s*[Mm]\.?)?")
_CLOCK_DURATION = re.compile(r"(\d{1,4}):(\d{2})(?::(\d{2}))?")
_DECIMAL_HOURS = re.compile(r"\d{1,5}(?:[.,]\d+)?")
_LINE = re.compile(r"(?:line|ligne)\s*(\d+)")
# How a slashed date was read, as the user writes it.
ORDER_LABELS = {"mdy": "MM/JJ/AAAA", "dmy": "JJ/MM/AAAA"}
# What the csv module says, in the user's words (anything else is shown as it is).
CSV_ERRORS = {
    "field larger than field limit": "une cellule est démesurément longue (guillemet jamais refermé ?)",
    "new-line character seen in unquoted field": "retour à la ligne dans une cellule sans guillemets",
    "unexpected end of data": "le fichier s'arrête au milieu d'une cellule (guillemet jamais refermé ?)",
}


def place(name: str, line_no: int) -> str:
    """Where a problem is, as the user reads it: ``export.csv, ligne 12``."""
    return f"{name}, ligne {line_no}"


@dataclass
class FileReport:
    name: str
    columns: dict[str, str]
    date_format: str
    rows: int = 0
    not_work: int = 0


@dataclass
class CsvImportReport:
    dry_run: bool = False
    files: list[FileReport] = field(default_factory=list)
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    first_day: dt.date | None = None
    last_day: dt.date | None = None

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def not_work(self) -> int:
        return sum(f.not_work for f in self.files)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "files": [
                {
                    "name": f.name,
                    "rows": f.rows,
                    "not_work": f.not_work,
                    "date_format": f.date_format,
                    "columns": f.columns,
                }
                for f in self.files
            ],
            "rows": self.rows,
            "not_work": self.not_work,
            **self.counts.as_dict(),
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
        }

    def summary(self) -> str:
        c = self.counts
        created = "à créer" if self.dry_run else "créée(s)"
        updated = "à mettre à jour" if self.dry_run else "mise(s) à jour"
        text = (
            f"{self.rows} ligne(s) lue(s) dans {len(self.files)} fichier(s) : {c.created} saisie(s) "
            f"{created}, {c.updated} {updated}, {c.unchanged} déjà importée(s)"
        )
        if c.billed_kept:
            text += f", {c.billed_kept} déjà facturée(s) laissée(s) telles quelles"
        if self.not_work:
            text += f" ; {self.not_work} pause(s) ou absence(s) écartée(s)"
        if self.first_day:
            text += f" (du {self.first_day:%d/%m/%Y} au {self.last_day:%d/%m/%Y})"
        return text + "."


# --- header --------------------------------------------------------------------------------------------


def _map_header(cells: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = KEY_FIELD.get(header_key(cell))
        if name and name not in columns:
            columns[name] = index
    return columns


def _header(text: str, where: str) -> tuple[str, list[str]]:
    """(delimiter, header cells): the delimiter that makes the first line name the most known columns."""
    first = text.split("\n", 1)[0]
    best: tuple[int, str, list[str]] | None = None
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader([first], delimiter=delimiter), [])
        except csv.Error:
            continue
        found = len(_map_header(cells))
        if best is None or found > best[0]:
            best = (found, delimiter, cells)
    if best is None or best[0] == 0 or not first.strip():
        raise InputError(
            "la première ligne n'est pas un en-tête d'export Clockify (Projet, Utilisateur, Date de début…)",
            where=place(where, 1),
        )
    return best[1], best[2]


def _require(columns: dict[str, int], cells: list[str], where: str) -> None:
    missing = []
    if "user" not in columns and "email" not in columns:
        missing.append("Utilisateur/User")
    for name in ("start_date", "start_time"):
        if name not in columns:
            english, french = ALIASES[name][:2]
            missing.append(f"{french}/{english}")
    if not ({"duration_h", "duration_decimal"} & set(columns) or {"end_date", "end_time"} <= set(columns)):
        missing.append(
            "Durée (h)/Duration (h), Durée (décimal)/Duration (decimal) ou Date de fin/End Date + "
            "Heure de fin/End Time"
        )
    if missing:
        found = ", ".join(f"« {c.strip()} »" for c in cells if c.strip()) or "aucun"
        raise InputError(
            f"colonne(s) manquante(s) : {' ; '.join(missing)} ; en-têtes trouvés : {found}",
            where=place(where, 1),
        )


# --- cells ---------------------------------------------------------------------------------------------


def _date_parts(text: str) -> tuple[str, int, int, int] | None:
    """(kind, a, b, year) with kind iso / dotted / slashed; None when the text is no date."""
    s = text.strip()
    if m := _ISO.fullmatch(s):
        return "iso", int(m[2]), int(m[3]), int(m[1])
    if m := _DOTTED.fullmatch(s):
        return "dotted", int(m[1]), int(m[2]), int(m[3])
    if m := _SLASHED.fullmatch(s):
        return "slashed", int(m[1]), int(m[2]), int(m[3])
    return None


def _full_year(year: int) -> int:
    return year + 2000 if year < 100 else year


def _date(text: str, order: str, where: str, label: str) -> dt.date:
    parts = _date_parts(text)
    if parts is None:
        raise InputError(
            f"{label} « {text} » n'est pas une date (MM/JJ/AAAA, JJ/MM/AAAA, JJ.MM.AAAA ou AAAA-MM-JJ)",
            where=where,
        )
    kind, a, b, year = parts
    if kind == "iso":
        month, day = a, b
    elif kind == "dotted" or order == "dmy":
        day, month = a, b
    else:
        month, day = a, b
    try:
        return dt.date(_full_year(year), month, day)
    except ValueError as exc:
        hint = f" (lue comme {ORDER_LABELS[order]})" if kind == "slashed" else ""
        raise InputError(f"{label} « {text} » n'existe pas{hint}", where=where) from exc


def _time(text: str, where: str, label: str) -> dt.time:
    m = _TIME.fullmatch(text.strip())
    if not m:
        raise InputError(f"{label} « {text} » n'est pas une heure (10:23, 10:23:52 ou 10:23 AM)", where=where)
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    if m[4]:
        if not 1 <= hour <= 12:
            raise InputError(f"{label} « {text} » : une heure sur 12 (AM/PM) va de 1 à 12", where=where)
        hour = hour % 12 + (12 if m[4].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise InputError(f"{label} « {text} » n'est pas une heure de la journée", where=where)
    return dt.time(hour, minute, second)


def _clock_duration(text: str) -> int | None:
    m = _CLOCK_DURATION.fullmatch(text.strip())
    if not m:
        return None
    hours, minutes, seconds = int(m[1]), int(m[2]), int(m[3] or 0)
    if minutes > 59 or seconds > 59:
        return None
    return hours * 3600 + minutes * 60 + seconds


def _decimal_hours(text: str) -> int | None:
    s = text.strip()
    if not _DECIMAL_HOURS.fullmatch(s):
        return None
    try:
        hours = Decimal(s.replace(",", "."))
    except InvalidOperation:
        return None
    return int(quantize(hours * 3600, Decimal(1)))


# --- one file ------------------------------------------------------------------------------------------


def _slash_order(rows: list[tuple[int, list[str]]], columns: dict[str, int], wanted: str, where: str) -> str:
    """``mdy`` or ``dmy`` for the file's slashed dates: the option, else what the dates themselves allow."""
    if wanted != "auto":
        return wanted
    day_first = month_first = None  # the first line proving each order
    ambiguous = None
    for line_no, cells in rows:
        for name in ("start_date", "end_date"):
            index = columns.get(name)
            if index is None or index >= len(cells):
                continue
            parts = _date_parts(cells[index])
            if not parts or parts[0] != "slashed":
                continue
            _, a, b, _ = parts
            if a > 12 and day_first is None:
                day_first = line_no
            elif b > 12 and month_first is None:
                month_first = line_no
            elif a != b and a <= 12 and b <= 12 and ambiguous is None:
                ambiguous = (line_no, cells[index])
    if day_first and month_first:
        raise InputError(
            f"les dates sont écrites jour/mois ligne {day_first} et mois/jour ligne {month_first} : "
            "un export par format de date",
            where=place(where, max(day_first, month_first)),
        )
    if day_first:
        return "dmy"
    if month_first:
        return "mdy"
    if ambiguous:
        line_no, text = ambiguous
        raise InputError(
            f"la date « {text} » se lit aussi bien mois/jour que jour/mois et aucune date du fichier ne "
            "tranche : indiquez --date-format mdy ou dmy (Clockify › Paramètres du profil › Format de date)",
            where=place(where, line_no),
        )
    return "mdy"


def _rows(text: str, delimiter: str, where: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    try:
        next(reader, None)  # the header
        start = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        detail = next((fr for en, fr in CSV_ERRORS.items() if str(exc).startswith(en)), str(exc))
        raise InputError(
            f"le fichier CSV est mal formé : {detail}", where=place(where, reader.line_num)
        ) from exc
    return rows


def _file_records(
    name: str, text: str, *, date_format: str, tz: dt.tzinfo
) -> tuple[FileReport, list[EntryRecord]]:
    delimiter, header = _header(text, name)
    columns = _map_header(header)
    _require(columns, header, name)
    rows = _rows(text, delimiter, name)
    order = _slash_order(rows, columns, date_format, name)
    report = FileReport(
        name=name,
        columns={k: header[i] for k, i in sorted(columns.items(), key=lambda kv: kv[1])},
        date_format=order,
    )
    records = []
    occurrences: dict[tuple, int] = {}
    ids: dict[str, int] = {}
    width = len(header)
    for line_no, cells in rows:
        where = place(name, line_no)
        if len(cells) != width:
            raise InputError(f"{len(cells)} cellule(s) alors que l'en-tête a {width} colonnes", where=where)

        def cell(field_name: str, cells=cells) -> str:
            index = columns.get(field_name)
            return cells[index].strip() if index is not None else ""

        report.rows += 1
        if _type_key(cell("type")) in NOT_WORK:
            report.not_work += 1
            continue
        user, email = cell("user"), cell("email").lower()
        if not user and not email:
            raise InputError("ni utilisateur ni e-mail : à qui est ce temps ?", where=where)
        start_day = _date(cell("start_date"), order, where, "la date de début")
        start_local = dt.datetime.combine(start_day, _time(cell("start_time"), where, "l'heure de début"))
        start = timezone.make_aware(start_local, tz)
        duration = None
        if raw := cell("duration_h"):
            duration = _clock_duration(raw)
            if duration is None:
                duration = _decimal_hours(raw)
            if duration is None:
                raise InputError(
                    f"la durée « {raw} » n'est ni HH:MM:SS, ni H:MM, ni un nombre d'heures (1,5)", where=where
                )
        elif raw := cell("duration_decimal"):
            duration = _decimal_hours(raw)
            if duration is None:
                raise InputError(
                    f"la durée « {raw} » n'est pas un nombre d'heures (1,50 ou 1.50)", where=where
                )
        end = None
        if cell("end_time"):
            end_day = (
                _date(cell("end_date"), order, where, "la date de fin") if cell("end_date") else start_day
            )
            end_local = dt.datetime.combine(end_day, _time(cell("end_time"), where, "l'heure de fin"))
            if not cell("end_date") and end_local < start_local:
                end_local += dt.timedelta(days=1)  # past midnight
            end = timezone.make_aware(end_local, tz)
            if end < start:
                raise InputError(
                    f"la saisie finit ({end_local:%d/%m/%Y %H:%M}) avant de commencer "
                    f"({start_local:%d/%m/%Y %H:%M})",
                    where=where,
                )
            elapsed = int((end - start).total_seconds())
            if duration is None:
                duration = elapsed
            elif abs(elapsed - duration) > DURATION_TOLERANCE:
                raise InputError(
                    f"du {start_local:%d/%m/%Y %H:%M} au {end_local:%d/%m/%Y %H:%M}, la saisie dure "
                    f"{format_hours(elapsed)} mais la colonne durée indique {format_hours(duration)} : "
                    f"les dates sont-elles bien au format {ORDER_LABELS[order]} ?",
                    where=where,
                )
        else:
            end = start + dt.timedelta(seconds=duration)
        billable_text = cell("billable").lower()
        if billable_text not in YES | NO:
            raise InputError(f"facturable « {cell('billable')} » : attendu Oui ou Non (Yes/No)", where=where)
        entry_id = cell("id") or None
        if entry_id:
            if entry_id in ids:
                raise InputError(
                    f"la saisie d'identifiant « {entry_id} » figure déjà ligne {ids[entry_id]}", where=where
                )
            ids[entry_id] = line_no
        project = cell("project")
        person = email or folded(user)
        occurrence_key = (person, start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M"), folded(project))
        occurrences[occurrence_key] = occurrences.get(occurrence_key, 0) + 1
        records.append(
            EntryRecord(
                where=where,
                user_name=user,
                user_email=email,
                clockify_id=entry_id,
                start=start,
                end=end,
                duration_seconds=duration,
                client_name=cell("client"),
                project=project,
                task=cell("task"),
                description=cell("description"),
                tags=[t.strip() for t in cell("tags").split(",") if t.strip()],
                billable=billable_text in YES,
                occurrence=1 if entry_id else occurrences[occurrence_key],
            )
        )
    return report, records


class _DryRun(Exception):
    pass


def clockify_csv_import(
    *,
    paths: list,
    date_format: str = "auto",
    time_zone: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CsvImportReport:
    """Read every file, check every row, then store all of them at once (or, ``dry_run``, nothing)."""
    date_format = (date_format or "auto").lower()
    if date_format not in DATE_FORMATS:
        raise InputError(f"format de date « {date_format} » : attendu auto, mdy ou dmy")
    try:
        tz = zoneinfo.ZoneInfo(time_zone) if time_zone else timezone.get_current_timezone()
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"fuseau horaire « {time_zone} » inconnu (par exemple Europe/Paris)") from exc
    report = CsvImportReport(dry_run=dry_run)
    records: list[EntryRecord] = []
    for path in paths:
        name = Path(str(path)).name
        try:
            text, _encoding = read_source(path, None, None)
        except InputError as exc:
            # The reader names the line in its own words ("line 3" or "ligne 3"): the file comes first.
            line = _LINE.fullmatch(exc.where or "")
            where = place(name, int(line[1])) if line else f"{name}, {exc.where}" if exc.where else name
            raise InputError(exc.reason, where=where) from exc
        file_report, file_records = _file_records(name, text, date_format=date_format, tz=tz)
        report.files.append(file_report)
        records.extend(file_records)
        if progress:
            progress(f"{name} : {file_report.rows} ligne(s) lue(s)")
    if records:
        days = [timezone.localtime(r.start).date() for r in records]
        report.first_day, report.last_day = min(days), max(days)
    try:
        with transaction.atomic():
            report.counts = entries_upsert(records=records, source=Source.CSV)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report
