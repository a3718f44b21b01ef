from decimal import Decimal

import pytest

from syaga.core.dates import DateError, parse_date
from syaga.core.money import AmountError, format_quantity, format_rate, parse_amount, quantize
from syaga.core.text import normalize_company_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56 €", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1234.5", "1234.5"),
        ("1234,5", "1234.5"),
        ("-12,00", "-12.00"),
        ("(12,00)", "-12.00"),
        ("1.234.567,89", "1234567.89"),
        ("1 400", "1400"),
        ("1.234", "1234"),
        ("0,123", "0.123"),
        ("751,60", "751.60"),
        ("EUR 20", "20"),
    ],
)
def test_parse_amount_reads_french_and_english_exports(text, expected):
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "", "1,2,3.4.5", "12..5", "1.23.45", "--"])
def test_parse_amount_refuses_what_is_not_a_number(text):
    with pytest.raises(AmountError, match="ce n'est pas un nombre"):
        parse_amount(text)


def test_quantize_is_half_up_and_refuses_floats():
    assert quantize(Decimal("0.005")) == Decimal("0.01")
    assert quantize(Decimal("2.675")) == Decimal("2.68")
    assert quantize(Decimal("-0.005")) == Decimal("-0.01")
    with pytest.raises(TypeError):
        quantize(0.1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/12/2024", (2024, 12, 31)),
        ("01/02/15", (2015, 2, 1)),
        ("2025-08-01", (2025, 8, 1)),
        ("2025-08-01T10:00:00", (2025, 8, 1)),
        ("5.3.2019", (2019, 3, 5)),
    ],
)
def test_parse_date_formats(text, expected):
    assert parse_date(text).timetuple()[:3] == expected


@pytest.mark.parametrize("text", ["31/02/2024", "hier", "2024/13/01"])
def test_parse_date_errors(text):
    with pytest.raises(DateError):
        parse_date(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Société Pharmabest S.A.R.L.", "PHARMABEST"),
        ("PHARMABEST", "PHARMABEST"),
        ("STE BUQUET SAS", "BUQUET"),
        ("La Provençale", "LA PROVENCALE"),
        ("SAS", "SAS"),
    ],
)
def test_normalize_company_name(name, expected):
    assert normalize_company_name(name) == expected


def test_parse_date_of_an_instant_is_its_paris_business_date():
    import datetime as dt

    # 23:30 UTC on 31 December is already 1 January in Paris
    instant = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert parse_date(instant) == dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("20.00", "20\xa0%"),
        ("5.50", "5,5\xa0%"),
        ("12.15", "12,15\xa0%"),
        ("0", "0\xa0%"),
        ("100", "100\xa0%"),
    ],
)
def test_rates_read_as_french_percentages(value, shown):
    assert format_rate(Decimal(value)) == shown


def test_quantities_drop_trailing_zeros_with_a_decimal_comma():
    assert [format_quantity(Decimal(q)) for q in ("2.0000", "3.5000", "0.2500", "10")] == [
        "2",
        "3,5",
        "0,25",
        "10",
    ]


def test_template_filters_share_the_formats():
    from django.template import Context, Template

    html = Template("{% load money %}{{ a|eur }} / {{ r|rate }} / {{ none|eur }}").render(
        Context({"a": Decimal("1234.5"), "r": "20.00", "none": None})
    )
    assert html == "1\u202f234,50\xa0€ / 20\xa0% / "
