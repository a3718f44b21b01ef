import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import RequestFactory
from django.urls import resolve

from banking.models import BankAccount
from invoicing.models.invoice import Status
from invoicing.selectors import days_sales_outstanding
from syaga.core.dates import today
from tests.factories import ClientFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db

EUR = "\u00a0€"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


@pytest.fixture
def books(seller):
    t = today()
    BankAccount.objects.create(qonto_id="main", balance=Decimal("2500.00"))
    slow = ClientFactory(name="Lent SA")
    # 1 200 TTC due 40 days ago, unpaid: J+30
    late = make_invoice(
        client=slow, amounts=[Decimal("1000.00")], status=Status.ISSUED, issue_date=t - days(70)
    )
    # 600 TTC paid 10 days after its due date
    paid = make_invoice(
        client=slow, amounts=[Decimal("500.00")], status=Status.ISSUED, issue_date=t - days(80)
    )
    paid.amount_paid, paid.paid_date, paid.status = paid.total_ttc, t - days(40), Status.PAID
    paid.save()
    punctual = ClientFactory(name="Ponctuel SARL")
    # 300 TTC due in 20 days
    make_invoice(client=punctual, amounts=[Decimal("250.00")], status=Status.ISSUED, issue_date=t - days(10))
    return {"late": late}


URL = "/banking/dashboard/"


def cfo(username="cfo"):
    """A staff user allowed to read the cash dashboard."""
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_cash_dashboard"))
    return user


def render(user):
    """The view as its URL serves it (with the URL's permission check)."""
    request = RequestFactory().get(URL)
    request.user = user
    return resolve(URL).func(request)


def test_staff_sees_balance_forecast_overdue_dso_and_late_payers(books):
    # when
    response = render(cfo())
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f"2\u202f500,00{EUR}" in html  # today's balance
    assert f'<td class="forecast-7">0,00{EUR}</td>' in html
    assert f'<td class="forecast-30">300,00{EUR}</td>' in html
    assert f'<td class="forecast-balance-30">2\u202f800,00{EUR}</td>' in html
    # J+30: one invoice, 1 200 due; it is also "overdue, date unknown" in the forecast
    assert f"<tr><td>J+30</td><td>1</td><td>1\u202f200,00{EUR}</td></tr>" in html
    assert f"En retard, date d'encaissement inconnue (1)</th><td>1\u202f200,00{EUR}" in html
    assert books["late"].number in html
    # DSO = 1 500 receivables / 2 100 sales of 90 days x 90 = 64.3 days
    assert '<td class="dso">64,3 jours</td>' in html
    # Lent SA: (10 + 40) / 2 = 25 days late, all late: 50 + 50 x 25 / 60 = 70.8 -> 71
    assert "<tr><td>Lent SA</td><td>71</td>" in html
    assert "Ponctuel SARL</td><td>" not in html


def test_non_staff_and_anonymous_are_sent_to_the_login(client, books):
    # when
    anonymous = client.get(URL)
    client.force_login(UserFactory(username="visitor", is_staff=False))
    non_staff = client.get(URL)
    # then
    assert anonymous.status_code == non_staff.status_code == 302
    assert "/admin/login/" in anonymous["Location"]
    assert "/admin/login/" in non_staff["Location"]


def test_a_staff_user_without_the_permission_is_refused(client, books):
    # given: staff, e.g. someone who only enters time, without « Peut voir le tableau de trésorerie »
    client.force_login(UserFactory(username="assistant", is_staff=True))
    # when
    response = client.get(URL)
    # then: 403 with a French page, and neither the balance nor the receivables
    html = response.content.decode()
    assert response.status_code == 403
    assert "Accès refusé" in html
    assert "2\u202f500,00" not in html
    assert books["late"].number not in html


def test_the_permission_or_superuser_opens_the_dashboard(client, books):
    client.force_login(cfo())
    assert client.get(URL).status_code == 200
    client.force_login(UserFactory(username="boss", is_staff=True, is_superuser=True))
    assert client.get(URL).status_code == 200


def test_empty_books_render(seller):
    # when
    response = render(cfo())
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "n/d (aucune vente sur 90 jours)" in html
    assert "Aucun client en retard." in html


def test_dso_formula(books):
    # then: receivables 1 500 / sales 2 100 x 90
    assert days_sales_outstanding(on=today()) == Decimal("64.3")
    # 200 days later nothing was sold in the window
    assert days_sales_outstanding(on=today() + days(200)) is None


def test_dashboard_through_its_url_needs_staff_and_shows_the_balance(client, books):
    # given: nobody signed in
    response = client.get(URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    # when: a staff user allowed to read it opens it
    client.force_login(cfo())
    page = client.get(URL)
    # then
    assert page.status_code == 200
    assert '<td class="balance">2\u202f500,00\u00a0€</td>' in page.content.decode()
