"""Pages printed after an invoice by the apps above invoicing: the detail of a time-billed invoice's entries.

Invoicing imports none of them. An app registers a provider, by its dotted path, in ``AppConfig.ready()``::

    annex_register(provider="timetracking.selectors.invoice_timesheet_annex")

A provider takes the invoice and returns an :class:`Annex`, or None when it has nothing for it (it looks at
the invoice's origin before it reads anything, so other invoices cost no query).
"""

from dataclasses import dataclass

from django.utils.module_loading import import_string

_PROVIDERS: list[str] = []


@dataclass(frozen=True)
class Annex:
    """A table printed on its own page after the invoice: the rows as text, already formatted in French."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: tuple[int, ...] = ()  # the columns aligned right (figures)
    total: tuple[str, ...] = ()  # a last row in bold, when there is one


def annex_register(*, provider: str) -> None:
    """Add a provider (dotted path to ``provider(invoice) -> Annex | None``); idempotent."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def annexes_for(invoice) -> list[Annex]:
    """The annexes of this document, in registration order."""
    annexes = (import_string(path)(invoice) for path in _PROVIDERS)
    return [annex for annex in annexes if annex is not None]
