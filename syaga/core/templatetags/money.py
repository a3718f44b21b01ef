"""The money and rate filters every page, document, e-mail and export uses: ``1 234,56 €``, ``20 %``.

``{% load money %}`` then ``{{ invoice.total_ttc|eur }}`` and ``{{ line.vat_rate|rate }}``.
"""

from decimal import Decimal, InvalidOperation

from django import template

from syaga.core.money import format_eur, format_rate

register = template.Library()


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def eur(value) -> str:
    amount = _decimal(value)
    return "" if amount is None else format_eur(amount)


@register.filter
def rate(value) -> str:
    percent = _decimal(value)
    return "" if percent is None else format_rate(percent)
