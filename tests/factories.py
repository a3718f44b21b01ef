"""factory_boy factories shared by every app's tests."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from invoicing.models import Client, Contract, Invoice, InvoiceLine, SellerProfile
from invoicing.models.contract import Period
from invoicing.models.invoice import Kind, Origin, Status
from invoicing.models.validation import EventKind
from invoicing.services import lifecycle
from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@syaga.fr")
    is_staff = True
    password = factory.django.Password("pass-word-123")


class SellerProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SellerProfile

    legal_name = "SYAGA Consulting"
    legal_form = "SAS"
    share_capital = Decimal("10000.00")
    rcs_city = "Marseille"
    siren = "732829320"
    siret = "73282932000074"
    vat_number = "FR44732829320"
    address_line1 = "12 rue de la République"
    postal_code = "13001"
    city = "Marseille"
    email = "facturation@syaga.fr"
    iban = "FR7630006000011234567890189"
    bic = "AGRIFRPPXXX"


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n} SAS")
    siren = "542051180"
    address_line1 = "1 avenue du Prado"
    postal_code = "13008"
    city = "Marseille"
    invoice_emails = factory.LazyAttribute(
        lambda c: f"compta@{c.name.split()[0].lower()}{c.name.split()[1]}.fr"
    )


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    client = factory.SubFactory(ClientFactory)
    label = "Forfait infogérance"
    amount_ht = Decimal("500.00")
    period = Period.MONTHLY
    start_date = dt.date(2025, 1, 1)
    next_billing_date = factory.LazyAttribute(lambda c: c.start_date)


def make_invoice(
    *,
    client=None,
    amounts=(Decimal("100.00"),),
    vat_rate=Decimal("20.00"),
    status=Status.DRAFT,
    issue_date=None,
    origin=Origin.MANUAL,
    **kwargs,
) -> Invoice:
    """An invoice brought to ``status`` through the services (the lifecycle's moves, audited as in real use).

    Issued ones are approved "by the system" with the reason « facture de test »; paid ones are paid in full
    on their due date, partially paid ones for half their total.
    """
    client = client or ClientFactory()
    lines = [
        LineSpec(description=f"Prestation {i}", unit_price=Decimal(a), vat_rate=vat_rate)
        for i, a in enumerate(amounts, start=1)
    ]
    invoice = invoice_create(
        client=client,
        lines=lines,
        origin=origin,
        issue_date=issue_date,
        submit=status != Status.DRAFT,
        **kwargs,
    )
    if status == Status.REJECTED:
        lifecycle.invoice_move(invoice=invoice, to=Status.REJECTED, kind=EventKind.REJECTED, reason="test")
    elif status not in (Status.DRAFT, Status.PENDING_REVIEW):
        lifecycle.invoice_approve_as_system(invoice=invoice, reason="facture de test", issue_date=issue_date)
    if status == Status.SENT:
        lifecycle.invoice_mark_sent(invoice=invoice)
    elif status == Status.PAID:
        lifecycle.invoice_record_payment(invoice=invoice, amount=invoice.total_ttc, paid_on=invoice.due_date)
    elif status == Status.PARTIALLY_PAID:
        half = (invoice.total_ttc / 2).quantize(Decimal("0.01"))
        lifecycle.invoice_record_payment(invoice=invoice, amount=half, paid_on=invoice.due_date)
    elif status == Status.CANCELLED:
        credit_note_create(invoice=invoice, reason="annulation de test")
        invoice.refresh_from_db()
    return invoice


__all__ = [
    "ClientFactory",
    "ContractFactory",
    "InvoiceLine",
    "Kind",
    "SellerProfileFactory",
    "UserFactory",
    "make_invoice",
]
