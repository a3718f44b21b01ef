"""Connecting Qonto (OAuth) is for users holding « Peut connecter le compte Qonto », and its error page
shows what came back in the URL as text, never as HTML."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from banking.models import QontoCredential
from tests.banking.qonto_stub import QontoStub
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

START = reverse("banking:qonto-oauth-start")
CALLBACK = reverse("banking:qonto-oauth-callback")


@pytest.fixture
def stub(httpserver, settings):
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    settings.QONTO_OAUTH_REFRESH_TOKEN = ""
    return stub


def connector(username="tresorier"):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="connect_qonto"))
    return user


def state_of(start) -> str:
    return start["Location"].split("state=")[1].split("&")[0]


def test_a_staff_user_without_the_permission_cannot_start_or_finish_the_flow(client, stub):
    # given: a staff user with no permission
    client.force_login(UserFactory(username="assistant", is_staff=True))
    # when
    start = client.get(START)
    callback = client.get(CALLBACK, {"code": stub.issue_code(), "state": "guessed"})
    # then: refused, not sent to Qonto, nothing exchanged nor stored
    assert start.status_code == 403
    assert "Accès refusé" in start.content.decode()
    assert callback.status_code == 403
    assert stub.token_grants == []
    assert not QontoCredential.objects.exists()


def test_the_permission_connects_qonto(client, stub):
    # given
    client.force_login(connector())
    # when
    start = client.get(START)
    back = client.get(CALLBACK, {"code": stub.issue_code(), "state": state_of(start)})
    # then
    assert start.status_code == 302
    assert start["Location"].startswith(stub.server.url_for("/oauth2/auth"))
    assert back.status_code == 302
    assert stub.token_grants == ["authorization_code"]
    assert QontoCredential.objects.get().refresh_token_encrypted


def test_the_error_qonto_sends_back_is_shown_escaped(client, stub):
    # given: an authorization started, and a callback URL forged with markup in its error
    client.force_login(connector())
    state = state_of(client.get(START))
    script = "<script>alert(document.cookie)</script>"
    # when
    response = client.get(
        CALLBACK, {"state": state, "error": script, "error_description": '<img src=x onerror="x()">'}
    )
    # then: a French page that shows the text, and no markup from the URL
    html = response.content.decode()
    assert response.status_code == 400
    assert "Qonto a refusé l&#x27;autorisation." in html
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert not QontoCredential.objects.exists()


def test_an_unknown_state_is_a_french_error_page(client, stub):
    client.force_login(connector())
    response = client.get(CALLBACK, {"code": "abc", "state": "<b>forged</b>"})
    assert response.status_code == 400
    assert "Autorisation inconnue ou expirée" in response.content.decode()
    assert "<b>forged" not in response.content.decode()
