"""How time reads in French: ``7 h 05``, ``0 h 45``; shares as ``66,7 %`` through the money module's rate."""

from decimal import Decimal

from syaga.core.money import format_rate, quantize


def format_hours(seconds: int | None) -> str:
    """``7 h 05`` (minutes truncated: a running minute is not worked yet)."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60}\u00a0h\u00a0{minutes % 60:02d}"


def share(part: int, whole: int) -> Decimal | None:
    """``part`` out of ``whole`` in percent, one decimal; None when there is no whole."""
    if not whole:
        return None
    return quantize(Decimal(part) * 100 / Decimal(whole), Decimal("0.1"))


def format_share(value: Decimal | None) -> str:
    return "—" if value is None else format_rate(value)


def format_quantity(value: Decimal) -> str:
    """An invoice quantity without trailing zeros, decimal comma: ``12,25``."""
    text = f"{Decimal(value).normalize():f}"
    return text.replace(".", ",")
