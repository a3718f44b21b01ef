"""What every API client of the project does the same way when a server asks it to wait."""

import datetime as dt
import email.utils

# Answers worth another try after a pause: too many requests, and a gateway or server momentarily away.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def retry_after_seconds(header: str) -> float | None:
    """Seconds a ``Retry-After`` header asks for: a number of seconds or an HTTP date; None without one."""
    header = (header or "").strip()
    if not header:
        return None
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def backoff_seconds(attempt: int, *, base: float, cap: float) -> float:
    """Exponential back-off: ``base`` × 2^attempt, never more than ``cap``."""
    return min(base * (2**attempt), cap)


def wait_before_retry(headers, attempt: int, *, base: float, cap: float) -> float:
    """What the server asked for (Retry-After), else the back-off; never more than ``cap``."""
    told = retry_after_seconds(headers.get("Retry-After", ""))
    return min(told, cap) if told is not None else backoff_seconds(attempt, base=base, cap=cap)
