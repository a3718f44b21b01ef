"""Money: Decimal only, one rounding rule.

Every amount in the project is a ``Decimal``; a float never touches money. Rounding goes through
:func:`quantize` and nowhere else.
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def quantize(value, exp: Decimal = CENT) -> Decimal:
    """Round to the cent (or to ``exp``) with ROUND_HALF_UP: 0.005 becomes 0.01, -0.005 becomes -0.01.

    This is the commercial rounding French invoices use ("arrondi au centime le plus proche, la demie
    arrondie au centime supérieur"). Accepts Decimal, int or str; a float is refused because it already
    lost the cents.
    """
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal or a str")
    return Decimal(value).quantize(exp, rounding=ROUND_HALF_UP)


def vat_amount(base_ht: Decimal, rate_percent: Decimal) -> Decimal:
    """VAT on a base at a percentage rate (20.00 = 20 %), rounded half-up to the cent."""
    return quantize(Decimal(base_ht) * Decimal(rate_percent) / Decimal(100))


class AmountError(ValueError):
    """Text that is not an amount."""


_CURRENCY = re.compile(r"(?i)(eur|euros?|€)")
_SPACES = re.compile(r"[\s\u00a0\u202f']")


def parse_amount(text) -> Decimal:
    """Read an amount as French and English exports write it.

    Accepts a decimal comma or point, thousands separated by a space (also non-breaking or narrow), a
    point, a comma or an apostrophe, a currency sign, a leading minus or accounting parentheses:
    ``"1 234,56"``, ``"1.234,56"``, ``"1,234.56"``, ``"1234.5"``, ``"(12,00)"``, ``"-12 €"``.
    Raises :class:`AmountError` for anything else. Returns the exact Decimal (not rounded).
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        raise TypeError("money must not be a float")
    raw = str(text)
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
    if not s or not re.fullmatch(r"[0-9.,]+", s):
        raise AmountError(f"montant « {raw} » : ce n'est pas un nombre")
    last_comma, last_dot = s.rfind(","), s.rfind(".")
    if last_comma >= 0 and last_dot >= 0:
        decimal_sep = "," if last_comma > last_dot else "."
    elif last_comma >= 0:
        decimal_sep = "," if _looks_decimal(s, ",") else None
    elif last_dot >= 0:
        decimal_sep = "." if _looks_decimal(s, ".") else None
    else:
        decimal_sep = None
    if decimal_sep is None:
        if ("," in s or "." in s) and not re.fullmatch(r"\d{1,3}([.,]\d{3})+", s):
            raise AmountError(f"montant « {raw} » : ce n'est pas un nombre")
        integer, fraction = s.replace(",", "").replace(".", ""), ""
    else:
        integer, _, fraction = s.rpartition(decimal_sep)
        thousands = "." if decimal_sep == "," else ","
        if decimal_sep in integer:
            raise AmountError(f"montant « {raw} » : ce n'est pas un nombre")
        if thousands in integer and not re.fullmatch(rf"\d{{1,3}}(\{thousands}\d{{3}})+", integer):
            raise AmountError(f"montant « {raw} » : ce n'est pas un nombre")
        integer = integer.replace(thousands, "")
    try:
        value = Decimal(f"{integer or '0'}.{fraction or '0'}")
    except InvalidOperation as exc:
        raise AmountError(f"montant « {raw} » : ce n'est pas un nombre") from exc
    return -value if negative else value


def _looks_decimal(s: str, sep: str) -> bool:
    """A lone separator is a decimal one unless it groups exact thousands (``1.234`` / ``12,345,678``)."""
    parts = s.split(sep)
    if len(parts) > 2:
        return False  # several of them: thousands separators
    head, tail = parts
    # "1.234" is ambiguous; exports of amounts nearly always carry cents, so three digits after a
    # single separator with a 1-3 digit head means thousands.
    return not (len(tail) == 3 and 1 <= len(head) <= 3 and head != "0")


def format_count(count: int) -> str:
    """French display of a count: ``72 585`` (narrow no-break space for thousands, as in amounts)."""
    return f"{count:,}".replace(",", "\u202f")


def format_eur(value: Decimal) -> str:
    """French display: ``1 234,56 €`` (narrow no-break space for thousands)."""
    q = quantize(value)
    sign = "-" if q < 0 else ""
    integer, _, cents = f"{abs(q):.2f}".partition(".")
    groups = []
    while integer:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    thin = "\u202f"
    return f"{sign}{thin.join(groups)},{cents}\u00a0€"


def format_rate(percent: Decimal) -> str:
    """French display of a percentage: ``20 %``, ``5,5 %``, ``12,15 %`` (no trailing zeros)."""
    return f"{format_quantity(percent)}\u00a0%"


def format_quantity(quantity: Decimal) -> str:
    """French display of a quantity: ``2``, ``3,5``, ``0,25`` (no trailing zeros, decimal comma)."""
    text = f"{Decimal(quantity).normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")
