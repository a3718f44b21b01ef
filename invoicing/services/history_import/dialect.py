"""How the old tool wrote its export: encoding, delimiter, header spellings, and how a cell reads.

Nothing here knows about invoices beyond the names of the columns: it turns bytes into text, finds the
header and the delimiter, and reads one amount or one date, refusing what could be read two ways.
"""

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from syaga.core.dates import DateError, parse_date
from syaga.core.errors import InputError
from syaga.core.money import AmountError, format_count, format_eur, quantize
from syaga.core.text import header_key

HEADER_SCAN_ROWS = 10
DELIMITERS = (";", "\t", ",")
# A row of an invoice export is a few hundred characters; a longer physical line is not an export row
# (and would hit the csv module's field limit with a less helpful message).
MAX_LINE_LENGTH = 100_000
# DecimalField(max_digits=14, decimal_places=2): twelve digits before the decimal mark.
MAX_AMOUNT = Decimal("999999999999.99")
FIRST_YEAR, LAST_YEAR = 1900, 2099

# Field -> accepted header spellings, in order of preference when a file has several of them. The first
# ones are those the issue names; the others are what other tools are seen to write.
ALIASES: dict[str, tuple[str, ...]] = {
    "number": (
        "Numéro",
        "N° facture",
        "Facture",
        "Num",
        "Numéro facture",
        "Numéro de facture",
        "N° de facture",
        "No facture",
        "Num facture",
        "Réf facture",
        "Référence facture",
        "Invoice number",
        "Invoice no",
        "Invoice",
    ),
    "issue_date": (
        "Date",
        "Date facture",
        "Date d'émission",
        "Date de facture",
        "Date emission",
        "Date fact",
        "Invoice date",
        "Issue date",
    ),
    "due_date": ("Échéance", "Date d'échéance", "Date échéance", "Date limite de paiement", "Due date"),
    "client": (
        "Raison sociale",
        "Nom client",
        "Client",
        "Nom du client",
        "Customer",
        "Customer name",
        "Client name",
    ),
    "label": ("Désignation", "Libellé", "Objet", "Description", "Intitulé", "Label"),
    "ht": (
        "Montant HT",
        "Total HT",
        "HT",
        "Montant hors taxes",
        "Total hors taxes",
        "Net HT",
        "Amount excl tax",
    ),
    "vat": ("TVA", "Montant TVA", "Total TVA", "VAT", "Tax"),
    "ttc": ("Montant TTC", "Total TTC", "TTC", "Net à payer", "Montant toutes taxes", "Amount incl tax"),
    "paid_date": (
        "Réglée le",
        "Date règlement",
        "Date de paiement",
        "Date de règlement",
        "Date paiement",
        "Payée le",
        "Payé le",
        "Paid on",
        "Payment date",
    ),
}
ALIAS_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(header_key(a) for a in spellings) for name, spellings in ALIASES.items()
}
KEY_FIELD: dict[str, str] = {key: f for f, keys in ALIAS_KEYS.items() for key in keys}
REQUIRED = ("number", "issue_date", "client")
AMOUNT_FIELDS = ("ht", "vat", "ttc")
FIELD_LABELS = {
    "number": "numéro de facture",
    "issue_date": "date",
    "due_date": "échéance",
    "client": "client",
    "label": "libellé",
    "ht": "montant HT",
    "vat": "TVA",
    "ttc": "montant TTC",
    "paid_date": "date de paiement",
}
# What Python's codecs say when bytes do not decode (``UnicodeDecodeError.reason``), as the user reads it.
_DECODE_REASONS = {
    "invalid start byte": "octet de début invalide",
    "invalid continuation byte": "octet de suite invalide",
    "unexpected end of data": "fin de données inattendue",
    "truncated data": "données tronquées",
    "illegal UTF-16 surrogate": "demi-caractère UTF-16 isolé",
    "illegal encoding": "encodage invalide",
    "character maps to <undefined>": "octet sans caractère",
}
_CURRENCY_SUFFIX = re.compile(r"(eur|euros?)$")


@dataclass(frozen=True, slots=True)
class Dialect:
    """What was found out about the file: how to split it and where each field is."""

    encoding: str
    delimiter: str
    header_line: int  # file line of the header (title lines above it are skipped)
    header: tuple[str, ...]
    columns: dict[str, int]  # field name -> column index

    @property
    def width(self) -> int:
        return len(self.header)

    def column_names(self) -> dict[str, str]:
        return {name: self.header[index].strip() for name, index in self.columns.items()}


# -- bytes to text ----------------------------------------------------------------------------------------


def read_source(path, stream, encoding: str | None) -> tuple[str, str]:
    """(text, encoding found) of a path or a binary/text stream; refuses NUL bytes and endless lines."""
    if stream is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise InputError(f"fichier « {path} » introuvable") from exc
        except OSError as exc:
            raise InputError(f"fichier « {path} » illisible : {exc.strerror}") from exc
    else:
        data = stream.read()
    if isinstance(data, str):
        text, found = data.removeprefix("\ufeff"), "text"
    elif encoding:
        try:
            text, found = data.decode(encoding).removeprefix("\ufeff"), encoding
        except LookupError as exc:
            raise InputError(f"encodage « {encoding} » inconnu") from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"le fichier ne se lit pas en {encoding} : {_decode_reason(exc)} "
                f"({exc.object[exc.start : exc.end]!r})",
                where=_line_of_byte(data, exc),
            ) from exc
    else:
        text, found = _decode(data)
    _check_text(text, found)
    return text, found


def _utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le``/``-be`` when the bytes look like UTF-16 text without its BOM, else None.

    Text in a Latin script written as UTF-16 has a zero byte in nearly every other position (the high byte
    of each letter); no 8-bit export has that pattern.
    """
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    zeros_even, zeros_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zeros_odd > 0.4 and zeros_even < 0.05:
        return "utf-16-le"
    if zeros_even > 0.4 and zeros_odd < 0.05:
        return "utf-16-be"
    return None


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise InputError(
                f"le fichier commence comme de l'UTF-16 mais ne se lit pas en UTF-16 : {_decode_reason(exc)}",
                where=_line_of_byte(data, exc),
            ) from exc
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return data.decode(utf16), utf16
        except UnicodeDecodeError as exc:
            raise InputError(
                f"le fichier ressemble à de l'UTF-16 sans son indicateur d'ordre des octets (BOM) mais ne se "
                f"lit pas en {utf16} ({_decode_reason(exc)}) ; enregistrez-le à nouveau en UTF-8, ou "
                "indiquez --encoding",
                where=_line_of_byte(data, exc),
            ) from exc
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 reads everything and agrees on the letters.
        return data.decode("latin-1"), "latin-1"


def _decode_reason(exc: UnicodeDecodeError) -> str:
    return _DECODE_REASONS.get(exc.reason, exc.reason)


def _line_of_byte(data: bytes, exc: UnicodeDecodeError) -> str:
    """``ligne N`` of the byte a decoding stopped at (the text before it decodes, by definition)."""
    before = data[: exc.start].decode(exc.encoding, errors="replace")
    return f"ligne {_line_of(before + '.', len(before))}"


def _line_of(text: str, position: int) -> int:
    """File line (1-based, as the csv module counts: \\r, \\n and \\r\\n all end a line) of a position."""
    return len(io.StringIO(text[:position], newline="").readlines()) + (
        position == 0 or text[position - 1] in "\r\n"
    )


def _check_text(text: str, encoding: str) -> None:
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            f"la ligne contient un octet NUL : ce n'est pas un export texte, ou pas en {encoding} "
            "(essayez --encoding)",
            where=f"ligne {_line_of(text, nul)}",
        )
    for line_no, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_LENGTH:
            raise InputError(
                f"la ligne fait {format_count(len(line))} caractères (au plus "
                f"{format_count(MAX_LINE_LENGTH)} pour une ligne d'export)",
                where=f"ligne {line_no}",
            )


# -- the header -----------------------------------------------------------------------------------------


def _field_of(cell: str) -> str | None:
    key = header_key(cell)
    if key in KEY_FIELD:
        return KEY_FIELD[key]
    stripped = _CURRENCY_SUFFIX.sub("", key)  # "Montant HT (EUR)", "Total TTC euros"
    return KEY_FIELD.get(stripped) if stripped else None


def map_header(cells: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Field -> column index; when two columns name one field, the preferred alias wins, then the first."""
    best: dict[str, tuple[int, int]] = {}
    for index, cell in enumerate(cells):
        name = _field_of(cell)
        if name is None:
            continue
        key = header_key(cell)
        keys = ALIAS_KEYS[name]
        rank = keys.index(key) if key in keys else len(keys)
        if name not in best or rank < best[name][0]:
            best[name] = (rank, index)
    return {name: index for name, (_rank, index) in best.items()}


def _find_header(text: str, delimiter: str | None) -> tuple[str, int, list[str]]:
    """(delimiter, header line number, header cells).

    Each candidate delimiter splits the first rows; the header is the first row in which several cells
    are known column names, and the delimiter is the one that finds the most of them. Counting known
    names rather than separators is what keeps decimal commas from passing for a comma-separated file.
    An Excel ``sep=;`` first line is honoured. Title lines above the header are skipped.
    """
    first_line = text.split("\n", 1)[0].strip()
    m = re.fullmatch(r'"?sep=(.)"?', first_line, flags=re.IGNORECASE)
    if m and not delimiter:
        delimiter = m[1]
    candidates = (delimiter,) if delimiter else DELIMITERS
    best: tuple[int, str, int, list[str]] | None = None
    for candidate in candidates:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=candidate)
        try:
            for _ in range(HEADER_SCAN_ROWS):
                start = reader.line_num + 1
                row = next(reader)
                matched = len(map_header(row))
                if matched >= 2:
                    if best is None or matched > best[0]:
                        best = (matched, candidate, start, row)
                    break
        except (StopIteration, csv.Error):
            pass
    if best:
        return best[1], best[2], best[3]
    # No row names two known columns: report against the first non-blank line, split as well as we can.
    lines = text.splitlines()
    number, line = next(((i, line) for i, line in enumerate(lines, start=1) if line.strip()), (1, ""))
    if not line:
        raise InputError("le fichier est vide : ni en-tête, ni facture", where="ligne 1")
    chosen = delimiter or max(DELIMITERS, key=line.count)
    try:
        cells = next(csv.reader([line], delimiter=chosen), [])
    except csv.Error:
        cells = line.split(chosen)
    return chosen, number, cells


def _missing_column_error(name: str, cells: list[str], line_no: int) -> InputError:
    expected = ", ".join(ALIASES[name][:4])
    found = ", ".join(f"« {c} »" for c in cells if c.strip()) or "aucun"
    return InputError(
        f"colonne {FIELD_LABELS[name]} manquante (attendu l'un de : {expected}) ; en-têtes trouvés : {found}",
        where=f"ligne {line_no}",
    )


def dialect_find(text: str, *, encoding: str, delimiter: str | None) -> Dialect:
    """The delimiter and the header of the text; refuses a header without the columns an invoice needs."""
    delimiter, header_line, header = _find_header(text, delimiter)
    columns = map_header(header)
    for name in REQUIRED:
        if name not in columns:
            raise _missing_column_error(name, header, header_line)
    if not any(name in columns for name in AMOUNT_FIELDS):
        expected = "Montant HT, Total HT, TVA, Montant TTC ou Total TTC"
        found = ", ".join(f"« {c} »" for c in header if c.strip()) or "aucun"
        raise InputError(
            f"colonne de montant manquante (attendu l'un de : {expected}) ; en-têtes trouvés : {found}",
            where=f"ligne {header_line}",
        )
    return Dialect(
        encoding=encoding, delimiter=delimiter, header_line=header_line, header=tuple(header), columns=columns
    )


# -- one cell -------------------------------------------------------------------------------------------

# The ``1234,56`` and ``1 234,56`` most rows hold: no ambiguity, read without the general parser.
_PLAIN_AMOUNT = re.compile(r"-?(?:\d{1,12}|\d{1,3}(?:[ \u00a0\u202f]\d{3}){1,3})(?:[.,]\d{1,2})?")
_PLAIN_TO_DECIMAL = str.maketrans({",": ".", " ": None, "\u00a0": None, "\u202f": None})
_CURRENCY = re.compile(r"(?i)(eur|euros?|€)")
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_GROUPED = {sep: re.compile(rf"\d{{1,3}}(?:\{sep}\d{{3}})+") for sep in ".,"}


def read_amount(text: str) -> Decimal:
    """An amount to the cent, refusing any text that could mean two amounts.

    Reads a decimal comma or point, thousands separated by spaces, or by the other mark when both appear
    (``1 234,56``, ``1.234,56``, ``1,234.56``, ``1234.5``), a currency sign, a leading or trailing minus
    and accounting parentheses. Refuses, with :class:`AmountError`: more than two decimals (``12,345``
    after a head of four digits or more, ``0,555``), a lone separator followed by exactly three digits
    (``1.234``, ``100,555``: thousands or decimals?), and amounts beyond what the database holds.
    """
    if _PLAIN_AMOUNT.fullmatch(text):
        return quantize(Decimal(text.translate(_PLAIN_TO_DECIMAL)))
    raw = text
    s = _CURRENCY.sub("", raw).strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):
        negative, s = True, s[1:-1].strip()
    if s.startswith("-"):
        negative, s = not negative, s[1:].strip()
    elif s.startswith("+"):
        s = s[1:].strip()
    if s.endswith("-"):  # "12,00-" as some accounting exports write credits
        negative, s = not negative, s[:-1].strip()
    s = _SPACES.sub("", s)
    if not re.fullmatch(r"[0-9.,]*[0-9][0-9.,]*", s):
        raise AmountError(f"« {raw} » n'est pas un montant")
    last_comma, last_dot = s.rfind(","), s.rfind(".")
    if last_comma >= 0 and last_dot >= 0:
        decimal_mark = "," if last_comma > last_dot else "."
        integer, _, fraction = s.rpartition(decimal_mark)
        thousands = "." if decimal_mark == "," else ","
        if decimal_mark in integer or not _GROUPED[thousands].fullmatch(integer):
            raise AmountError(f"« {raw} » n'est pas un montant")
        integer = integer.replace(thousands, "")
    elif last_comma >= 0 or last_dot >= 0:
        mark = "," if last_comma >= 0 else "."
        if s.count(mark) > 1:  # 1.234.567: only thousands separators can repeat
            if not _GROUPED[mark].fullmatch(s):
                raise AmountError(f"« {raw} » n'est pas un montant")
            integer, fraction = s.replace(mark, ""), ""
        else:
            integer, _, fraction = s.partition(mark)
            if len(fraction) == 3 and 1 <= len(integer) <= 3 and integer != "0":
                raise AmountError(
                    f"montant « {raw} » ambigu : {integer}{fraction} avec un séparateur de milliers, ou "
                    f"{integer},{fraction} avec trois décimales ? Écrivez-le avec ses centimes "
                    f"({integer}{fraction},00 ou {integer},{fraction[:2]})"
                )
    else:
        integer, fraction = s, ""
    if len(fraction) > 2:
        raise AmountError(f"montant « {raw} » : plus de deux décimales")
    value = Decimal(f"{integer or '0'}.{fraction or '0'}")
    if value > MAX_AMOUNT:
        raise AmountError(f"montant « {raw} » trop grand (au plus {format_eur(MAX_AMOUNT)})")
    return quantize(-value if negative else value)


def read_date(text: str, *, latest: dt.date | None = None) -> dt.date:
    """A date as :func:`parse_date` reads it, within the years an invoice can carry (and not after
    ``latest`` when given). Raises :class:`DateError`, its message in French."""
    try:
        day = parse_date(text)
    except DateError as exc:
        # parse_date raises from the ValueError of a day that does not exist (31/02), and without a
        # cause for text that is no date at all.
        if exc.__cause__ is not None:
            raise DateError(f"date « {text} » : ce jour n'existe pas") from None
        raise DateError(f"date « {text} » illisible (attendu jj/mm/aaaa, jj/mm/aa ou aaaa-mm-jj)") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise DateError(f"date « {text} » hors limites (années {FIRST_YEAR} à {LAST_YEAR})")
    if latest is not None and day > latest:
        raise DateError(f"date « {text} » dans le futur (après le {latest:%d/%m/%Y})")
    return day
