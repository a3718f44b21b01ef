"""The import against what the database already holds: the same numbers, the clients, the counters.

Reads only. A number already stored is skipped when the file says the same thing about it, and is an
error naming the fields otherwise; the numbering counters say which numbers a series has handed out,
and the numbers the file brings must not leave holes behind a counter that moves.
"""

import datetime as dt
from dataclasses import dataclass, field

from invoicing.models import Client, ClientAlias, Invoice, InvoiceLine, InvoiceSequence
from invoicing.models.invoice import Kind, Origin
from invoicing.services.history_import.rows import HistoricalInvoice
from invoicing.services.numbering import missing_ranges, parse_number
from syaga.core.errors import InputError
from syaga.core.money import format_eur, format_rate

IN_CHUNK = 500
READ_ALL_ABOVE = 5000
GAPS_SHOWN = 20


# -- clients ----------------------------------------------------------------------------------------------


def known_clients() -> dict[str, int]:
    """Normalised name -> client id, from the clients' names and then their other names."""
    known: dict[str, int] = {}
    for key, pk in ClientAlias.objects.order_by("-client_id").values_list("normalized_name", "client_id"):
        known[key] = pk
    for key, pk in Client.objects.order_by("-pk").values_list("normalized_name", "pk"):
        known[key] = pk  # the oldest client wins when two share a name; a client's own name beats an alias
    return known


@dataclass
class ClientPlan:
    """The client of each normalised name: an existing one, or one to create with the invoices."""

    by_key: dict[str, Client] = field(default_factory=dict)
    new: list[Client] = field(default_factory=list)
    reused: int = 0


def clients_plan(invoices: list[HistoricalInvoice], known: dict[str, int]) -> ClientPlan:
    plan = ClientPlan()
    reuse: dict[str, int] = {}
    for invoice in invoices:
        key = invoice.client_key
        if key in plan.by_key or key in reuse:
            continue
        pk = known.get(key)
        if pk is None:
            client = Client(name=invoice.client_name, normalized_name=key)
            plan.new.append(client)
            plan.by_key[key] = client
        else:
            reuse[key] = pk
    stored = Client.objects.in_bulk(list(set(reuse.values()))) if reuse else {}
    plan.by_key.update({key: stored[pk] for key, pk in reuse.items()})
    plan.reused = len(stored)
    return plan


# -- numbers already stored -------------------------------------------------------------------------------

_STORED_FIELDS = (
    "pk",
    "number",
    "kind",
    "origin",
    "client_id",
    "client__name",
    "issue_date",
    "due_date",
    "paid_date",
    "total_ht",
    "total_vat",
    "total_ttc",
)


def _stored_numbers(numbers: list[str]) -> set[str]:
    if len(numbers) > READ_ALL_ABOVE:
        # A big file: reading every number once is cheaper than hundreds of IN queries.
        stored = Invoice.objects.filter(number__isnull=False).values_list("number", flat=True)
        return set(stored.iterator(10_000)).intersection(numbers)
    found: set[str] = set()
    for start in range(0, len(numbers), IN_CHUNK):
        chunk = numbers[start : start + IN_CHUNK]
        found.update(Invoice.objects.filter(number__in=chunk).values_list("number", flat=True))
    return found


def _day(value: dt.date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else "aucune"


def _differences(invoice: HistoricalInvoice, stored: dict, lines: list[tuple], client_id: int | None) -> list:
    """What the file says otherwise than the database, field by field (``total TTC 240,00 € dans le
    fichier, 120,00 € en base``). Only what the export carries is compared: a due date the file leaves
    out, or a payment recorded here after the export, is no difference."""
    found = []
    if invoice.kind != stored["kind"]:
        file_kind, stored_kind = Kind(invoice.kind).label, Kind(stored["kind"]).label
        found.append(f"type {file_kind} dans le fichier, {stored_kind} en base")
    if client_id != stored["client_id"]:
        found.append(
            f"client « {invoice.client_name} » dans le fichier, « {stored['client__name']} » en base"
        )
    if invoice.issue_date != stored["issue_date"]:
        found.append(f"date {_day(invoice.issue_date)} dans le fichier, {_day(stored['issue_date'])} en base")
    if invoice.due_date_given and invoice.due_date != stored["due_date"]:
        found.append(f"échéance {_day(invoice.due_date)} dans le fichier, {_day(stored['due_date'])} en base")
    for attr, label in (("total_ht", "total HT"), ("total_vat", "TVA"), ("total_ttc", "total TTC")):
        if getattr(invoice, attr) != stored[attr]:
            in_file, in_base = format_eur(getattr(invoice, attr)), format_eur(stored[attr])
            found.append(f"{label} {in_file} dans le fichier, {in_base} en base")
    if invoice.paid_date and invoice.paid_date != stored["paid_date"]:
        found.append(
            f"date de paiement {_day(invoice.paid_date)} dans le fichier, {_day(stored['paid_date'])} en base"
        )
    if stored["origin"] == Origin.IMPORTED:
        # The lines of an invoice issued here are not the export's rows; those of an imported one are.
        mine = [(line.description, line.total_ht, line.vat_rate) for line in invoice.lines]
        if len(mine) != len(lines):
            found.append(f"{len(mine)} ligne(s) dans le fichier, {len(lines)} en base")
        else:
            for position, (theirs, ours) in enumerate(zip(lines, mine, strict=True), start=1):
                if theirs != ours:
                    found.append(
                        f"ligne de facture {position} : « {ours[0]} » HT {format_eur(ours[1])} à "
                        f"{format_rate(ours[2])} dans le fichier, « {theirs[0]} » HT {format_eur(theirs[1])} "
                        f"à {format_rate(theirs[2])} en base"
                    )
                    break
    return found


def invoices_already_stored(invoices: dict[str, HistoricalInvoice], known: dict[str, int]) -> set[str]:
    """The numbers of the file already in the database with the same content: to skip.

    Raises :class:`InputError` at the first row (in file order) whose invoice is stored with other
    content, naming the fields that differ.
    """
    existing = sorted(_stored_numbers(list(invoices)), key=lambda number: invoices[number].line_no)
    for start in range(0, len(existing), IN_CHUNK):
        chunk = existing[start : start + IN_CHUNK]
        values = Invoice.objects.filter(number__in=chunk).values(*_STORED_FIELDS)
        stored = {row["number"]: row for row in values}
        imported = [row["pk"] for row in stored.values() if row["origin"] == Origin.IMPORTED]
        lines: dict[int, list[tuple]] = {}
        for invoice_id, *line in (
            InvoiceLine.objects.filter(invoice_id__in=imported)
            .order_by("invoice_id", "position", "pk")
            .values_list("invoice_id", "description", "total_ht", "vat_rate")
        ):
            lines.setdefault(invoice_id, []).append(tuple(line))
        for number in chunk:
            invoice, row = invoices[number], stored[number]
            found = _differences(invoice, row, lines.get(row["pk"], []), known.get(invoice.client_key))
            if found:
                raise InputError(
                    f"la facture {number} est déjà en base avec un autre contenu : {' ; '.join(found)} "
                    "(un numéro ne sert jamais deux fois : corrigez le fichier, ou la facture enregistrée "
                    "par un avoir)",
                    where=f"ligne {invoice.line_no}",
                )
    return set(existing)


# -- numbering gaps ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberGap:
    """A run of numbers of a series and year that no invoice carries, stored or in the file."""

    series: str
    year: int
    first: int
    last: int
    counter: int  # the counter of the series and year before the import (0: none yet)
    floor: int  # the counter, or for a counter still at 0 the number before the lowest one in the file
    highest: int  # the highest number of the series and year, stored or in the file
    number_after: str  # the number right after the gap
    line_no: int | None  # its file line, when the file brings it

    @property
    def moves_counter(self) -> bool:
        """The import would move the counter across (part of) this gap: a number of the file jumps it.

        A counter still at 0 starts with the history: the gap below its lowest number is not crossed.
        """
        return self.line_no is not None and self.last > self.floor

    def text(self) -> str:
        if self.first == self.last:
            return f"{self.series}{self.year} : numéro {self.first} manquant"
        return f"{self.series}{self.year} : numéros {self.first}–{self.last} manquants"

    def as_dict(self) -> dict:
        return {"series": self.series, "year": self.year, "first": self.first, "last": self.last}


def numbering_gaps(invoices: dict[str, HistoricalInvoice]) -> list[NumberGap]:
    """The gaps of every series and year the file has numbers in, counting the numbers stored too."""
    in_file: dict[tuple[str, int], dict[int, HistoricalInvoice]] = {}
    for number, invoice in invoices.items():
        parsed = parse_number(number)
        if parsed:
            series, year, seq = parsed
            in_file.setdefault((series, year), {})[seq] = invoice
    if not in_file:
        return []
    keys = set(in_file)
    stored: dict[tuple[str, int], set[int]] = {}
    series_in_file = sorted({series for series, _ in keys})
    numbers = Invoice.objects.filter(series__in=series_in_file, number__isnull=False).values_list("number")
    for (number,) in numbers.iterator(10_000):
        parsed = parse_number(number)
        if parsed and parsed[:2] in keys:
            stored.setdefault(parsed[:2], set()).add(parsed[2])
    counters = {
        (series, year): last
        for series, year, last in InvoiceSequence.objects.filter(series__in=series_in_file).values_list(
            "series", "year", "last_number"
        )
        if (series, year) in keys
    }
    gaps = []
    for (series, year), by_seq in sorted(in_file.items()):
        present = stored.get((series, year), set()) | set(by_seq)
        counter = counters.get((series, year), 0)
        floor = counter or min(by_seq) - 1
        highest = max(present)
        for first, last in missing_ranges(present, start=1, end=highest):
            after = by_seq.get(last + 1)
            number_after = after.number if after else f"{series}{year}{last + 1:04d}"
            gaps.append(
                NumberGap(
                    series=series,
                    year=year,
                    first=first,
                    last=last,
                    counter=counter,
                    floor=floor,
                    highest=highest,
                    number_after=number_after,
                    line_no=after.line_no if after else None,
                )
            )
    return gaps


def gaps_refusal(gaps: list[NumberGap]) -> InputError | None:
    """The error for the gaps a counter would be moved across, first by file line; None if there are none."""
    crossing = sorted((gap for gap in gaps if gap.moves_counter), key=lambda gap: gap.line_no)
    if not crossing:
        return None
    gap = crossing[0]
    first = max(gap.first, gap.floor + 1)
    if first == gap.last:
        numbers = f"le numéro {first} manquant, qu'aucune facture ne pourrait plus jamais porter"
    else:
        numbers = (
            f"les numéros {first}–{gap.last} manquants, qu'aucune facture ne pourrait plus jamais porter"
        )
    counter = f"{gap.series}{gap.year}"
    if gap.counter:
        move = f"ferait passer le compteur de numérotation {counter} de {gap.counter} à {gap.highest}"
    else:
        move = f"porterait le nouveau compteur de numérotation {counter} à {gap.highest}"
    others = ""
    if len(crossing) > 1:
        shown = ", ".join(f"{g.text()} (ligne {g.line_no})" for g in crossing[1:4])
        more = " …" if len(crossing) > 4 else ""
        others = f". Autre(s) trou(s) : {len(crossing) - 1}, {shown}{more}"
    return InputError(
        f"{gap.number_after} {move} en sautant {numbers} (une faute de frappe dans le numéro ?) ; "
        "n'importez avec --accept-gaps que si ces numéros n'ont vraiment jamais existé"
        f"{others}",
        where=f"ligne {gap.line_no}",
    )
