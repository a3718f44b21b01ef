"""Time in French for templates: ``{% load timetracking %}`` then ``{{ seconds|hours }}`` (``7 h 05``) and
``{{ share|share }}`` (``66,7 %``, ``—`` without a value)."""

from django import template

from timetracking.display import format_hours, format_share

register = template.Library()


@register.filter
def hours(seconds) -> str:
    if seconds in (None, ""):
        return ""
    return format_hours(int(seconds))


@register.filter
def share(value) -> str:
    return format_share(value if value not in ("",) else None)
