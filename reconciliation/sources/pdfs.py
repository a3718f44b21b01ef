"""The PDF side: which files are on disk, and what each prints (number, issue date, totals).

Files are ``<dir>/<year>/<number>.pdf`` (``invoicing.documents.storage``). Text is read with pypdf from the
first page only (number, date and, for all but very long invoices, the totals are there); the last page is
read too only when the first does not print the totals.

pypdf's ``extract_text()`` costs about 50 ms for one of our pages (it parses every operator of the content
stream in Python), which is 10,000 invoices in four minutes on two cores. Our PDFs are WeasyPrint's: Type0
fonts with a ``ToUnicode`` map and hex glyph strings shown by ``TJ`` with a ``Tm`` before each line. So the
text of such a page is read straight from the content stream that pypdf decodes (about 5 ms); any page that
does not look like that (another producer, literal strings, a font without ``ToUnicode``), or where this
reading finds no invoice number, goes through pypdf's ``extract_text()``. Both give the same text for our
PDFs (``tests/reconciliation/test_reconcile.py`` checks it on rendered invoices).

Many files are read by a pool of processes (one per core): the work is pure CPU.
"""

import datetime as dt
import multiprocessing
import os
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from syaga.core.dates import DateError, parse_date
from syaga.core.lazy import lazy_module

pypdf = lazy_module("pypdf")

# Below this many files the pool costs more than it saves.
POOL_THRESHOLD = 40


@dataclass(frozen=True)
class PrintedDocument:
    """What one PDF prints; ``error`` says why it could not be read (the other fields are then empty)."""

    path: str
    number: str = ""
    issue_date: dt.date | None = None
    total_ht: Decimal | None = None
    total_vat: Decimal | None = None
    total_ttc: Decimal | None = None
    error: str = ""

    @property
    def missing_items(self) -> list[str]:
        """The items the text did not print (French, for the reason)."""
        names = [
            ("numéro", self.number),
            ("date d'émission", self.issue_date),
            ("total HT", self.total_ht),
            ("total TVA", self.total_vat),
            ("total TTC", self.total_ttc),
        ]
        return [name for name, value in names if value in (None, "")]


# --- files on disk ---------------------------------------------------------------------------------------

YEAR_DIR = re.compile(r"^\d{4}$")


def pdf_files(root: Path) -> dict[str, list[str]]:
    """``{number: [relative paths]}`` of every ``<year>/<number>.pdf`` under ``root`` (sorted paths)."""
    found: dict[str, list[str]] = {}
    if not root.is_dir():
        return found
    with os.scandir(root) as years:
        for year in years:
            if not (year.is_dir() and YEAR_DIR.match(year.name)):
                continue
            with os.scandir(year.path) as files:
                for entry in files:
                    name = entry.name
                    # .writing-* are files being written by the renderer (storage.pdf_write_once)
                    if name.lower().endswith(".pdf") and not name.startswith(".") and entry.is_file():
                        found.setdefault(name[:-4], []).append(f"{year.name}/{name}")
    for paths in found.values():
        paths.sort()
    return found


# --- reading one PDF ---------------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\u00a0\u202f\u2009]+")
_AMOUNT = r"(-?\d{1,3}(?: \d{3})*,\d{2}) ?€"
# The number follows the title (FACTURE or AVOIR, upper case on the page), not just any « n° » (an address, a
# line); the totals are the last ones on the page, after the lines (whose descriptions may read alike).
FIELDS = {
    "number": re.compile(r"\b(?:FACTURE|AVOIR)\s+n° ?(\S+)"),
    "issue_date": re.compile(r"Date d['’]émission (\d{2}/\d{2}/\d{4})"),
    "total_ht": re.compile(r"Total HT " + _AMOUNT),
    "total_vat": re.compile(r"Total TVA " + _AMOUNT),
    "total_ttc": re.compile(r"(?:Net à payer TTC|Total de l['’]avoir) " + _AMOUNT),
}


def printed_fields(text: str) -> dict:
    """The number, date and totals a page's text prints (those found), from the invoice template's
    wording (``templates/invoicing/pdf/invoice.html``)."""
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())
    fields = {}
    for name, pattern in FIELDS.items():
        matches = pattern.findall(text)
        if not matches:
            continue
        value = matches[-1] if name.startswith("total_") else matches[0]
        if name == "issue_date":
            try:
                fields[name] = parse_date(value)
            except DateError:
                continue
        elif name == "number":
            fields[name] = value
        else:
            fields[name] = Decimal(value.replace(" ", "").replace(",", "."))
    return fields


def read_pdf(root: str, relative: str) -> PrintedDocument:
    """What ``root/relative`` prints; never raises (an unreadable file says why)."""
    try:
        reader = pypdf.PdfReader(os.path.join(root, relative))
        pages = reader.pages
        if not len(pages):
            return PrintedDocument(relative, error="aucune page")
        fields = printed_fields(page_text(pages[0]))
        if "total_ttc" not in fields and len(pages) > 1:
            last = printed_fields(page_text(pages[len(pages) - 1], expect=FIELDS["total_ttc"]))
            fields.update({k: v for k, v in last.items() if k.startswith("total_")})
    except Exception as exc:  # a damaged file can make pypdf raise nearly anything: it is reported, not fatal
        return PrintedDocument(relative, error=f"{type(exc).__name__} : {exc}"[:180])
    return PrintedDocument(relative, **fields)


def read_pdfs(root: Path, relatives: Iterable[str], *, workers: int | None = None) -> list[PrintedDocument]:
    """:func:`read_pdf` of each file, on every core when there are many (order kept)."""
    relatives = list(relatives)
    workers = workers or os.cpu_count() or 1
    # A django-q worker is a daemonic process, and those may not have children: read in this one then.
    if workers == 1 or len(relatives) < POOL_THRESHOLD or multiprocessing.current_process().daemon:
        return [read_pdf(str(root), relative) for relative in relatives]
    # The children only read files: they never touch the parent's database connection.
    context = multiprocessing.get_context("fork")
    chunk = max(1, min(64, len(relatives) // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(read_pdf, [str(root)] * len(relatives), relatives, chunksize=chunk))


# --- the page's text ---------------------------------------------------------------------------------------


class _NotOurs(Exception):
    """The page is not laid out as WeasyPrint writes it: pypdf's general extraction reads it."""


def page_text(page, *, expect: re.Pattern = FIELDS["number"]) -> str:
    """The page's text; pypdf's general extraction when the fast reading fails or misses ``expect``."""
    try:
        text = _weasyprint_text(page)
    except _NotOurs:
        return page.extract_text()
    return text if expect.search(_SPACES.sub(" ", text)) else page.extract_text()


# Text objects (BT … ET), and inside them the operators of a WeasyPrint page: font selection, a hex string
# (Tj) or an array of them (TJ), the text matrix (one per line), the operators that start a new line.
_TEXT_OBJECT = re.compile(rb"(?<![\w/])BT\b(.*?)\bET(?![\w])", re.S)
_TEXT_OPS = re.compile(
    rb"/([^\s/\[\]<>()%{}]+)\s+[-+\d.]+\s+Tf"
    rb"|\[([^\]]*)\]\s*TJ"
    rb"|<([0-9A-Fa-f\s]*)>\s*Tj"
    rb"|[-+\d.]+\s+[-+\d.]+\s+[-+\d.]+\s+[-+\d.]+\s+[-+\d.]+\s+([-+\d.]+)\s+Tm"
    rb"|(?<![\w.])(T\*|Td|TD)(?!\w)"
)
# A literal string shown by Tj, ' or " (TJ arrays are checked one by one).
_LITERAL_TEXT = re.compile(rb"\)\s*(?:Tj|'|\")")
_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")
_WHITESPACE = b" \t\r\n\f\x00"


class _GlyphMap(dict):
    """``str.translate`` table of a font: glyph code (as a character) -> text; unknown glyphs are dropped."""

    def __missing__(self, code):
        return None


def _weasyprint_text(page) -> str:
    fonts = _font_maps(page)
    contents = page.get_contents()
    if contents is None:
        raise _NotOurs
    data = contents.get_data()
    if _LITERAL_TEXT.search(data):
        raise _NotOurs
    out: list[str] = []
    font: _GlyphMap | None = None
    y = None
    for text_object in _TEXT_OBJECT.finditer(data):
        for match in _TEXT_OPS.finditer(text_object.group(1)):
            name, array, single, ty, newline = match.groups()
            if name is not None:
                font = fonts.get(name)
                if font is None:
                    raise _NotOurs
            elif ty is not None:
                new_y = float(ty)
                out.append("\n" if y is not None and abs(new_y - y) > 0.5 else " ")
                y = new_y
            elif newline is not None:
                out.append("\n")
            else:
                if font is None:
                    raise _NotOurs
                if array is not None:
                    if b"(" in array:
                        raise _NotOurs
                    hexes = b"".join(_HEX.findall(array))
                else:
                    hexes = single
                hexes = hexes.translate(None, _WHITESPACE)
                if len(hexes) % 4:
                    raise _NotOurs
                # Two-byte glyph codes, big-endian: read as UTF-16 code units, then mapped in one pass.
                codes = bytes.fromhex(hexes.decode("ascii")).decode("utf-16-be", "surrogatepass")
                out.append(codes.translate(font))
    return "".join(out)


def _font_maps(page) -> dict[bytes, "_GlyphMap"]:
    """``{resource name: {glyph code: text}}`` for the page's fonts; only two-byte (Identity-H) Type0
    fonts with a ToUnicode map are ours."""
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else {}
    fonts = resources.get("/Font")
    if fonts is None:
        raise _NotOurs
    maps = {}
    for name, reference in fonts.get_object().items():
        font = reference.get_object()
        if font.get("/Subtype") != "/Type0" or font.get("/Encoding") != "/Identity-H":
            raise _NotOurs
        to_unicode = font.get("/ToUnicode")
        if to_unicode is None:
            raise _NotOurs
        maps[name[1:].encode("latin-1")] = _GlyphMap(_to_unicode_map(to_unicode.get_object().get_data()))
    return maps


_BFCHAR = re.compile(rb"beginbfchar(.*?)endbfchar", re.S)
_BFRANGE = re.compile(rb"beginbfrange(.*?)endbfrange", re.S)
_PAIR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>")
_RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(?:<([0-9A-Fa-f]*)>|\[([^\]]*)\])")


def _utf16(hexes: bytes) -> str:
    return bytes.fromhex(hexes.decode("ascii")).decode("utf-16-be", "replace")


def _to_unicode_map(cmap: bytes) -> dict[int, str]:
    mapping: dict[int, str] = {}
    for block in _BFCHAR.findall(cmap):
        for source, target in _PAIR.findall(block):
            mapping[int(source, 16)] = _utf16(target)
    for block in _BFRANGE.findall(cmap):
        for low, high, start, targets in _RANGE.findall(block):
            low, high = int(low, 16), int(high, 16)
            if start:
                text = _utf16(start)
                if not text:
                    continue
                # The last character increments through the range (PDF 32000-1, 9.10.3).
                base = ord(text[-1])
                for code in range(low, high + 1):
                    mapping[code] = text[:-1] + chr(min(base + code - low, 0x10FFFF))
            else:
                for offset, target in enumerate(_HEX.findall(targets)):
                    mapping[low + offset] = _utf16(target)
    return mapping
