"""The first page's charts: SVG drawn on the server by pygal, put inline in the page.

No JavaScript and no file to serve: the page prints and screenshots as it shows. Amounts stay Decimal up to
here; the chart's geometry is drawn in floats (pygal places points on a canvas), while every figure a person
reads (axis, values) is written by ``format_eur`` from the Decimal.
"""

import re
from decimal import Decimal

from syaga.core.lazy import lazy_module
from syaga.core.money import format_eur, quantize

pygal = lazy_module("pygal")
pygal_style = lazy_module("pygal.style")
STYLE = dict(
    background="transparent",
    plot_background="transparent",
    foreground="#333333",
    foreground_strong="#333333",
    foreground_subtle="#e6e6e6",
    opacity=".85",
    opacity_hover=".95",
    colors=("#417690", "#79aec8", "#ba2121"),
    font_family="-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    value_font_size=10,
    legend_font_size=12,
    title_font_size=13,
)
SHORT_MONTHS = (
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.",
)  # fmt: skip
COMMON = {
    "js": (),  # no script from anywhere: the page is complete as served
    "disable_xml_declaration": True,
    "width": 640,
    "height": 260,
    "margin": 8,
    "show_legend": False,
    "x_label_rotation": 0,
    "print_values": False,
    "include_x_axis": True,
    "truncate_label": -1,
}


# pygal writes its configuration in a <script> for its optional tooltips; without them it is dead weight.
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _svg(chart) -> str:
    return _SCRIPT.sub("", chart.render(is_unicode=True))


def _euros(value: float) -> str:
    """Axis label: whole euros, thousands by a narrow no-break space (``12 500 €``)."""
    return format_eur(quantize(Decimal(str(value)), Decimal(1))).replace(",00", "")


def _point(amount: Decimal) -> dict:
    return {"value": float(amount), "label": format_eur(amount)}


def forecast_chart(days, *, with_balance: bool) -> str:
    """The balance expected each day (or, without a synchronised bank, the receipts added up)."""
    chart = pygal.Line(
        style=pygal_style.Style(**STYLE),
        **COMMON,
        value_formatter=_euros,
        show_minor_x_labels=False,
        x_labels_major_every=7,
        dots_size=2.5,
        fill=True,
    )
    chart.x_labels = [f"{day.date:%d/%m}" for day in days]
    running = Decimal("0.00")
    points = []
    for day in days:
        running += day.receipts
        points.append(_point(day.balance if with_balance else running))
    chart.add("Solde prévu" if with_balance else "Encaissements cumulés", points)
    return _svg(chart)


def revenue_chart(months) -> str:
    """Revenue HT per month (credit notes deducted), oldest first."""
    chart = pygal.Bar(
        style=pygal_style.Style(**STYLE),
        **COMMON,
        value_formatter=_euros,
        show_minor_x_labels=False,
        x_labels_major_every=3,
    )
    chart.x_labels = [f"{SHORT_MONTHS[m.month.month - 1]} {m.month:%y}" for m in months]
    chart.add("Chiffre d'affaires HT", [_point(m.net_ht) for m in months])
    return _svg(chart)
