"""factory_boy factories shared by every app's tests."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from invoicing.models import Client, Contract, Invoice, InvoiceLine, SellerProfile
from invoicing.models.contract import Period
from invoicing.models.invoice import Kind, Origin, Status
from invoicing.services.invoices import LineSpec, invoice_create, invoice_issue


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
    """An invoice built through the services; ``status=Status.ISSUED`` issues it (and numbers it)."""
    client = client or ClientFactory()
    lines = [
        LineSpec(description=f"Prestation {i}", unit_price=Decimal(a), vat_rate=vat_rate)
        for i, a in enumerate(amounts, start=1)
    ]
    initial = Status.PENDING_REVIEW if status == Status.PENDING_REVIEW else Status.DRAFT
    invoice = invoice_create(
        client=client, lines=lines, origin=origin, issue_date=issue_date, status=initial, **kwargs
    )
    if status in (Status.ISSUED,):
        invoice = invoice_issue(invoice=invoice, issue_date=issue_date)
    elif status not in (Status.DRAFT, Status.PENDING_REVIEW):
        Invoice.objects.filter(pk=invoice.pk).update(status=status)
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
