"""Sign-in throttling (django-axes, fully on): wrong passwords lock one username from one address."""

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "pass-word-123"
HOME = "10.0.0.1"


@pytest.fixture
def gerant():
    return UserFactory(username="gerant", is_superuser=True)


def sign_in(client, password, *, username="gerant", ip=HOME):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip)


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def time_passes(minutes):
    """The stored failures become ``minutes`` older, as if the clock had moved on."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=minutes))


def test_five_wrong_passwords_lock_the_user_at_that_address_for_fifteen_minutes(client, gerant):
    # given: four wrong passwords are answered by the login form
    for _ in range(4):
        response = sign_in(client, "guess")
        assert response.status_code == 200
        assert "Veuillez compléter correctement" in response.content.decode()  # wrong password
    # when: a fifth, then the right password
    sign_in(client, "guess")
    locked = sign_in(client, PASSWORD)
    # then: locked out, with a French page that says for how long; not signed in
    html = locked.content.decode()
    assert locked.status_code == 429
    assert "Connexion bloquée" in html
    assert "bloquée pendant 15 minutes" in html
    assert "_auth_user_id" not in client.session
    # and: 14 minutes later still locked, 16 minutes later the right password works again
    time_passes(14)
    assert sign_in(client, PASSWORD).status_code == 429
    time_passes(16)
    assert signed_in(sign_in(client, PASSWORD))


def test_the_lock_holds_one_username_at_one_address(client, gerant):
    # given: "gerant" locked from HOME
    UserFactory(username="comptable")
    for _ in range(5):
        sign_in(client, "guess")
    assert sign_in(client, PASSWORD).status_code == 429
    # then: the same user from another address, and another user from HOME, still sign in
    assert signed_in(sign_in(client, PASSWORD, ip="192.0.2.7"))
    client.logout()
    assert signed_in(sign_in(client, PASSWORD, username="comptable"))


def test_a_successful_sign_in_resets_the_count(client, gerant):
    # given: four failures, then a success
    for _ in range(4):
        sign_in(client, "guess")
    assert signed_in(sign_in(client, PASSWORD))
    client.logout()
    # when: four more failures
    for _ in range(4):
        assert sign_in(client, "guess").status_code == 200
    # then: not locked (nine failures in all, never five in a row)
    assert signed_in(sign_in(client, PASSWORD))


def test_behind_a_reverse_proxy_the_lock_follows_the_client_not_the_proxy(client, gerant, settings):
    # given: nginx in front (every request comes from 127.0.0.1), appending the client to X-Forwarded-For
    settings.REVERSE_PROXY_COUNT = 1

    def via_proxy(password, client_address, sent_by_client=""):
        forwarded = f"{sent_by_client}, {client_address}" if sent_by_client else client_address
        return client.post(
            LOGIN,
            {"username": "gerant", "password": password, "next": "/admin/"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    # when: someone at 203.0.113.5 fails five times
    for _ in range(5):
        via_proxy("guess", "203.0.113.5")
    # then: locked there, even when it sends a forged X-Forwarded-For of its own
    assert via_proxy(PASSWORD, "203.0.113.5").status_code == 429
    assert via_proxy(PASSWORD, "203.0.113.5", sent_by_client="198.51.100.1").status_code == 429
    # and: the real user at another address, behind the same proxy, still signs in
    assert signed_in(via_proxy(PASSWORD, "198.51.100.9"))
