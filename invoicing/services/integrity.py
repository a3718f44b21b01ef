"""The tamper-evident archive: each issued document's legal content hashed and chained within its series.

Every invoice and credit note gets, in its issuing transaction, ``chain_hash = SHA-256(previous hash +
canonical JSON of its legal content)``, where the previous hash is the one of the document before it in the
same series (``chain_index`` counts the links from 1). The canonical JSON is Odoo's (sorted keys, ASCII,
no spaces) over exactly the columns PostgreSQL's trigger freezes (``LEGAL_FIELDS``) and every line; money and
rates are written with fixed decimals, so that a value read back from either database hashes the same.
Documents issued without a link (the imported history, or documents issued before this archive existed) are
appended to their series in number order by :func:`documents_chain_unchained`, flagged as such.

:func:`integrity_verify` recomputes every chain and the stored PDFs' SHA-256 and names every broken link: a
changed amount (raw SQL), a deleted or inserted document, an edited or missing PDF, an issued document
outside the chain. ``manage.py verify_integrity`` prints it; the daily health check can call it.
"""

import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import os
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from invoicing.models import Invoice, InvoiceEvent, InvoiceLine
from invoicing.models.invoice import FROZEN_STATUSES, LEGAL_FIELDS
from invoicing.models.validation import EventKind
from invoicing.services.numbering import parse_number
from syaga.core.money import format_eur, quantize

CHAIN_VERSION = 1
LINE_COLUMNS = ("position", "description", "quantity", "unit", "unit_price", "vat_rate", "total_ht")
# Decimal columns and their places as hashed; dates and JSON are read as text in bulk (see _bulk_columns).
PLACES = {"total_ht": 2, "total_vat": 2, "total_ttc": 2, "quantity": 4, "unit_price": 4, "vat_rate": 2}
DATE_COLUMNS = frozenset({"issue_date", "period_start", "period_end", "due_date"})
JSON_COLUMNS = frozenset({"vat_breakdown", "seller_snapshot", "buyer_snapshot"})
CHUNK = 2000
CANONICAL = {"sort_keys": True, "ensure_ascii": True, "indent": None, "separators": (",", ":")}


_FIXED_SEEN: dict[tuple[str, int], str] = {}  # amounts repeat (a contract's price, 20.00, 1.0000)


def _fixed(value, places: int) -> str | None:
    """A decimal with exactly ``places`` decimals, whether it comes as a Decimal (the ORM) or as the text
    a database casts it to (``1200``, ``751.6`` on SQLite, ``1200.00`` on PostgreSQL). Fewer decimals are
    padded with zeros (what quantize would do, without the cost, 800,000 times in an import)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    seen = _FIXED_SEEN.get((text, places))
    if seen is not None:
        return seen
    fixed = None
    if "E" not in text and "e" not in text:
        integer, dot, decimals = text.partition(".")
        if len(decimals) <= places and integer.lstrip("-").isdigit() and (not dot or decimals.isdigit()):
            fixed = f"{integer}.{decimals.ljust(places, '0')}"
    if fixed is None:
        fixed = str(quantize(Decimal(text), Decimal(1).scaleb(-places)))
    if len(_FIXED_SEEN) < 100_000:
        _FIXED_SEEN[(text, places)] = fixed
    return fixed


def _date(value) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else value


def _instant(value) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds") if value else None


@functools.lru_cache(maxsize=8192)
def _json_text(text: str) -> str:
    return _json(json.loads(text))


def _json(value) -> str:
    """Canonical JSON of a snapshot or a VAT breakdown (amounts with fixed decimals), from text or objects."""
    if isinstance(value, str):
        return _json_text(value)
    if isinstance(value, list):  # the VAT breakdown: [{"rate", "base_ht", "vat"}]
        value = [{key: _fixed(amount, 2) for key, amount in row.items()} for row in value]
    return json.dumps(value, **CANONICAL)


def document_content(values: dict, lines: list[dict]) -> dict:
    """The canonical legal content of a document: its frozen columns, its place in the chain, its lines.

    Works on model instances' values and on rows read in bulk (decimals, dates and JSON as text), which
    give the same content for the same document.
    """
    content = {"v": CHAIN_VERSION, "chain_index": values["chain_index"], "imported": values["chain_imported"]}
    for column in LEGAL_FIELDS:
        value = values[column]
        if column in PLACES:
            value = _fixed(value, PLACES[column])
        elif column in DATE_COLUMNS:
            value = _date(value)
        elif column in JSON_COLUMNS:
            value = _json(value)
        elif column == "issued_at":
            value = _instant(value)
        content[column] = value
    content["lines"] = [
        [_fixed(line[c], PLACES[c]) if c in PLACES else line[c] for c in LINE_COLUMNS] for line in lines
    ]
    return content


def document_hash(previous: str, content: dict) -> str:
    payload = json.dumps(content, **CANONICAL)
    return hashlib.sha256((previous + payload).encode("ascii")).hexdigest()


def _as_text(column: str) -> bool:
    return column in PLACES or column in DATE_COLUMNS or column in JSON_COLUMNS


def _bulk_values(queryset, columns, *plain) -> list[dict]:
    """Rows with decimals, dates and JSON read as text: no per-row conversion by the ORM (the canonical
    form is made from the text, see _fixed and _json)."""
    casts = {f"{column}_text": Cast(column, TextField()) for column in columns if _as_text(column)}
    names = [column for column in columns if not _as_text(column)]
    rows = list(queryset.values(*plain, *names, **casts))
    for row in rows:
        for alias in casts:
            row[alias[: -len("_text")]] = row.pop(alias)
    return rows


def _instance_values(invoice: Invoice) -> dict:
    return {
        column: getattr(invoice, column)
        for column in (*LEGAL_FIELDS, "chain_index", "chain_imported", "chain_previous", "chain_hash")
    }


def _line_values(line: InvoiceLine) -> dict:
    return {column: getattr(line, column) for column in LINE_COLUMNS}


# The link a transaction just made, per (connection, series): a batch of 500 approvals reads the series'
# last link once instead of once per document. It is trusted only while the on-commit callback registered
# with it is still pending on that connection: Django drops the callbacks of a savepoint or a transaction
# that rolls back, so a link that was rolled back is never followed.
_recent_links: dict[tuple[int, str], tuple[object, int, str]] = {}


def _link_remember(series: str, index: int, digest: str) -> None:
    key = (id(connection.connection), series)

    def forget():
        if _recent_links.get(key, (None,))[0] is forget:
            del _recent_links[key]

    _recent_links[key] = (forget, index, digest)
    transaction.on_commit(forget)


def _last_link(series: str) -> tuple[int, str]:
    cached = _recent_links.get((id(connection.connection), series))
    if cached is not None and any(entry[1] is cached[0] for entry in reversed(connection.run_on_commit)):
        return cached[1], cached[2]
    last = (
        Invoice.objects.filter(series=series, chain_index__isnull=False)
        .order_by("-chain_index")
        .values_list("chain_index", "chain_hash")
        .first()
    )
    return last or (0, "")


def document_chain_link(invoice: Invoice) -> None:
    """Give a document being issued its link (rank, previous hash, hash), on the instance the issue saves.

    Runs in the issuing transaction, after the number and the snapshots are set. Two documents of a series
    linked at the same moment cannot both take one rank: the unique (series, rank) constraint refuses the
    second, whose issue then rolls back (same year: the numbering lock already serialises them).
    """
    index, previous = _last_link(invoice.series)
    invoice.chain_index, invoice.chain_previous, invoice.chain_imported = index + 1, previous, False
    lines = [_line_values(line) for line in invoice.lines.all()]
    invoice.chain_hash = document_hash(previous, document_content(_instance_values(invoice), lines))
    _link_remember(invoice.series, invoice.chain_index, invoice.chain_hash)


# --- documents issued without a link ---------------------------------------------------------------


def _number_key(number: str):
    parsed = parse_number(number)
    return (0, parsed[1], parsed[2], "") if parsed else (1, 0, 0, number)


def _lines_by_invoice(invoice_filter: dict) -> dict[int, list[dict]]:
    lines: dict[int, list[dict]] = defaultdict(list)
    rows = InvoiceLine.objects.filter(**invoice_filter).order_by("invoice_id", "position", "pk")
    for row in _bulk_values(rows, LINE_COLUMNS, "invoice_id"):
        lines[row["invoice_id"]].append(row)
    return lines


def _write_links(links: list[tuple]) -> None:
    """(id, rank, previous, hash, imported) onto documents that have no link yet, in one statement or COPY."""
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE TEMP TABLE invoice_chain_links (id bigint, chain_index integer, chain_previous text, "
                "chain_hash text, chain_imported boolean) ON COMMIT DROP"
            )
            with cursor.cursor.copy("COPY invoice_chain_links FROM STDIN") as copy:
                for link in links:
                    copy.write_row(link)
            cursor.execute(
                f"UPDATE {table} AS i SET chain_index = l.chain_index, chain_previous = l.chain_previous, "  # noqa: S608
                "chain_hash = l.chain_hash, chain_imported = l.chain_imported "
                "FROM invoice_chain_links AS l WHERE i.id = l.id AND i.chain_hash = ''"
            )
            cursor.execute("DROP TABLE invoice_chain_links")
            return
        cursor.executemany(
            f"UPDATE {table} SET chain_index = %s, chain_previous = %s, chain_hash = %s, "  # noqa: S608
            "chain_imported = %s WHERE id = %s AND chain_hash = ''",
            [(index, previous, digest, imported, pk) for pk, index, previous, digest, imported in links],
        )


@dataclass(frozen=True)
class Link:
    index: int
    previous: str
    digest: str


# Above this many documents the canonical texts are made on every core (a 100,000-row history import).
PARALLEL_FROM = 20_000
_WORK: list = []  # what the forked workers read: (values, lines, rank, imported) per document


def _payloads(start: int, stop: int) -> list[str]:
    return [
        json.dumps(
            document_content({**values, "chain_index": rank, "chain_imported": imported}, lines), **CANONICAL
        )
        for values, lines, rank, imported in _WORK[start:stop]
    ]


def links_for_new_documents(documents: list[tuple[dict, list[dict]]], *, imported: bool) -> list[Link]:
    """The links of documents about to be inserted (the history import), each ``(values, lines)`` with the
    values of LEGAL_FIELDS and the lines' LINE_COLUMNS; in the order given. They go after their series'
    last link, in number order, as :func:`documents_chain_unchained` would have appended them once stored,
    and they hash to what :func:`integrity_verify` reads back from the database. Run in the transaction
    that inserts them: the unique (series, rank) constraint stops a document issued meanwhile.

    The ranks are known before any hash: the canonical texts (the costly part) are made in parallel when
    there are many, and only the chaining itself (one SHA-256 each) runs in order.
    """
    order = sorted(
        range(len(documents)),
        key=lambda i: (documents[i][0]["series"], _number_key(documents[i][0]["number"])),
    )
    last: dict[str, tuple[int, str]] = {}
    ranks: dict[int, int] = {}
    for i in order:
        series = documents[i][0]["series"]
        if series not in last:
            last[series] = _last_link(series)
        ranks[i] = last[series][0] + 1
        last[series] = (ranks[i], last[series][1])
    work = [(*documents[i], ranks[i], imported) for i in order]
    payloads = _payloads_everywhere(work)
    previous = {series: link[1] for series, link in ((s, _last_link(s)) for s in last)}
    links: list[Link | None] = [None] * len(documents)
    for i, payload in zip(order, payloads, strict=True):
        series = documents[i][0]["series"]
        digest = hashlib.sha256((previous[series] + payload).encode("ascii")).hexdigest()
        links[i] = Link(ranks[i], previous[series], digest)
        previous[series] = digest
    return links


def _payloads_everywhere(work: list) -> list[str]:
    global _WORK
    _WORK = work
    try:
        workers = min(os.cpu_count() or 1, 4)
        if len(work) < PARALLEL_FROM or workers < 2:
            return _payloads(0, len(work))
        # fork: the workers see the list without copying it through a pipe; they only compute, never touch
        # the database connection they inherit.
        step = -(-len(work) // workers)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.starmap(_payloads, [(start, start + step) for start in range(0, len(work), step)])
        return [payload for part in parts for payload in part]
    finally:
        _WORK = []


def documents_chain_unchained(*, imported: bool = True, dry_run: bool = False) -> list[str]:
    """Append every issued document that has no link to its series' chain, in number order; returns their
    numbers. ``imported`` flags the links as made after the fact (the history import). With ``dry_run``
    nothing is written (``verify_integrity`` reports them).

    Writes in one statement (COPY on PostgreSQL) only where no link exists yet, inside a transaction.
    """
    unchained = Invoice.objects.filter(status__in=FROZEN_STATUSES, chain_hash="")
    if dry_run:
        found = unchained.values_list("series", "number")
        return [number for series, number in sorted(found, key=lambda sn: (sn[0], _number_key(sn[1])))]
    rows = sorted(
        _bulk_values(unchained, LEGAL_FIELDS, "pk"),
        key=lambda row: (row["series"], _number_key(row["number"])),
    )
    if not rows:
        return []
    with transaction.atomic():
        lines = _lines_by_invoice({"invoice__status__in": FROZEN_STATUSES, "invoice__chain_hash": ""})
        last: dict[str, tuple[int, str]] = {}
        links = []
        for row in rows:
            series = row["series"]
            if series not in last:
                last[series] = _last_link(series)
            index, previous = last[series]
            row.update(chain_index=index + 1, chain_imported=imported)
            digest = document_hash(previous, document_content(row, lines.get(row["pk"], [])))
            links.append((row["pk"], index + 1, previous, digest, imported))
            last[series] = (index + 1, digest)
        _write_links(links)
    return [row["number"] for row in rows]


# --- verification ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    number: str
    problem: str

    def __str__(self):
        return f"{self.number} : {self.problem}"


@dataclass
class IntegrityReport:
    documents: int = 0
    pdfs: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.intact:
            return f"les {self.documents} documents sont intacts ({self.pdfs} PDF vérifiés)"
        return f"{len(self.findings)} anomalie(s) sur {self.documents} documents ({self.pdfs} PDF vérifiés)"


def pdf_dir() -> Path:
    return Path(settings.INVOICE_PDF_DIR)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _what_changed(row: dict, lines: list[dict], issued_totals: dict | None) -> str:
    """Say which part of the content no longer matches, as far as the database still tells."""
    details = []
    for column, label in (("total_ht", "total HT"), ("total_vat", "TVA"), ("total_ttc", "total TTC")):
        was = (issued_totals or {}).get(column)
        if was is not None and quantize(Decimal(was)) != quantize(row[column]):
            now, then = format_eur(quantize(row[column])), format_eur(quantize(Decimal(was)))
            details.append(f"{label} {now} (à l'émission : {then})")
    lines_ht = quantize(sum((Decimal(line["total_ht"]) for line in lines), Decimal("0")))
    if not details and lines_ht != quantize(row["total_ht"]):
        details.append(f"total HT {format_eur(row['total_ht'])} ≠ somme des lignes {format_eur(lines_ht)}")
    shown = "; ".join(details) or "lignes, identités, dates ou références"
    return f"contenu modifié depuis l'émission ({shown}) : l'empreinte ne correspond plus"


def _check_pdf(row: dict, report: IntegrityReport) -> None:
    if not row["pdf_sha256"]:
        return
    report.pdfs += 1
    path = pdf_dir() / row["pdf_path"]
    if not path.is_file():
        report.findings.append(Finding(row["number"], f"PDF introuvable ({path})"))
    elif file_sha256(path) != row["pdf_sha256"]:
        report.findings.append(
            Finding(row["number"], f"PDF modifié depuis son écriture ({path}) : son empreinte a changé")
        )


def integrity_verify() -> IntegrityReport:
    """Recompute every series' chain and every stored PDF's hash; list each broken link and each issued
    document outside the chain."""
    report = IntegrityReport()
    links = ("pk", "chain_index", "chain_imported", "chain_previous", "chain_hash", "pdf_path", "pdf_sha256")
    chained = Invoice.objects.filter(chain_index__isnull=False)
    for series in sorted(set(chained.values_list("series", flat=True).distinct())):
        expected_index, previous = 1, ""
        ids = list(chained.filter(series=series).order_by("chain_index").values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = sorted(
                _bulk_values(Invoice.objects.filter(pk__in=chunk), LEGAL_FIELDS, *links),
                key=lambda row: row["chain_index"],
            )
            lines = _lines_by_invoice({"invoice_id__in": chunk})
            issued_totals = dict(
                InvoiceEvent.objects.filter(invoice_id__in=chunk, kind=EventKind.ISSUED).values_list(
                    "invoice_id", "totals"
                )
            )
            for row in rows:
                report.documents += 1
                number = row["number"] or f"#{row['pk']}"
                if row["chain_index"] != expected_index:
                    missing = row["chain_index"] - expected_index
                    report.findings.append(
                        Finding(
                            number,
                            f"rang {row['chain_index']} dans la série {series} alors que {expected_index} "
                            f"était attendu : {missing} document(s) supprimé(s) avant lui"
                            if missing > 0
                            else f"rang {row['chain_index']} en double dans la série {series}",
                        )
                    )
                if row["chain_previous"] != previous:
                    report.findings.append(
                        Finding(number, "lien rompu : l'empreinte précédente diffère de celle d'avant")
                    )
                doc_lines = lines.get(row["pk"], [])
                recomputed = document_hash(row["chain_previous"], document_content(row, doc_lines))
                if recomputed != row["chain_hash"]:
                    report.findings.append(
                        Finding(number, _what_changed(row, doc_lines, issued_totals.get(row["pk"])))
                    )
                _check_pdf(row, report)
                expected_index, previous = row["chain_index"] + 1, row["chain_hash"]
    for number in documents_chain_unchained(dry_run=True):
        report.documents += 1
        report.findings.append(
            Finding(number, "émis sans empreinte, hors de la chaîne : écrit en dehors de l'application ?")
        )
    return report
