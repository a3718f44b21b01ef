import datetime as dt
import time
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from banking.clients.qonto import (
    ApiKeyAuth,
    OAuthAuth,
    QontoAuthError,
    QontoClient,
    QontoError,
    QontoRateLimitError,
    amount_from_api,
    client_from_settings,
    token_decrypt,
)
from banking.models import QontoCredential
from tests.banking.qonto_stub import MAIN_ACCOUNT, QontoStub

pytestmark = pytest.mark.django_db


@pytest.fixture
def qonto(httpserver, settings):
    stub = QontoStub(httpserver)
    stub.configure(settings)
    return stub


class Waits(list):
    """Records the back-off the client asks for instead of sleeping it (the waits are what we check)."""

    def __call__(self, seconds):
        self.append(seconds)


def api_key_client(stub, **kwargs):
    return QontoClient(stub.base_url, ApiKeyAuth(stub.login, stub.secret_key), **kwargs)


def test_api_key_sends_the_plain_login_colon_secret_header(qonto):
    # when
    accounts = client_from_settings().list_bank_accounts()
    # then
    assert [a["id"] for a in accounts] == [MAIN_ACCOUNT["id"], "018f71db-d2aa-7c11-8e0e-3b9d4c1f7a20"]
    assert qonto.requests[-1].path == "/v2/organization"
    assert qonto.requests[-1].headers["Authorization"] == f"{qonto.login}:{qonto.secret_key}"


def test_a_bad_key_is_a_401_with_a_clear_error(qonto):
    # given
    client = QontoClient(qonto.base_url, ApiKeyAuth(qonto.login, "wrong-secret"))
    # when
    with pytest.raises(QontoAuthError) as caught:
        client.get_organization()
    # then
    error = caught.value
    assert error.status == 401
    assert error.code == "unauthorized"
    assert error.trace_id
    assert "vérifiez QONTO_LOGIN et QONTO_SECRET_KEY" in str(error)
    assert len(qonto.requests) == 1  # a refused key is not retried


def test_every_page_is_read_until_next_page_is_null_with_status_sent_explicitly(qonto):
    # given: 250 transactions, among them pending and declined ones
    for i in range(250):
        qonto.add(
            status=("completed", "pending", "declined")[i % 3],
            updated=dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
        )
    # when
    seen = list(api_key_client(qonto).iter_transactions(MAIN_ACCOUNT["id"]))
    # then
    assert len(seen) == 250
    assert {t["id"] for t in seen} == {t["id"] for t in qonto.transactions}
    calls = qonto.transaction_requests()
    assert [c.arg("page") for c in calls] == ["1", "2", "3"]
    assert all(c.args["status[]"] == ["pending", "declined", "completed"] for c in calls)
    assert all(c.arg("per_page") == "100" for c in calls)


def test_paging_stops_when_next_page_is_missing(httpserver, settings):
    # given: an endpoint that leaves next_page out on the last page
    stub = QontoStub(httpserver, omit_next_page_on_last=True)
    for _ in range(3):
        stub.add()
    # when
    seen = list(api_key_client(stub).iter_transactions(MAIN_ACCOUNT["id"], per_page=2))
    # then
    assert len(seen) == 3
    assert len(stub.transaction_requests()) == 2


def test_updated_at_from_is_sent_in_utc_iso_8601(qonto):
    # when
    since = timezone.make_aware(dt.datetime(2026, 3, 1, 0, 0), timezone.get_fixed_timezone(60))
    list(api_key_client(qonto).iter_transactions(MAIN_ACCOUNT["id"], since))
    # then
    assert qonto.transaction_requests()[0].arg("updated_at_from") == "2026-02-28T23:00:00.000Z"


def test_429_waits_retry_after_then_succeeds(qonto):
    # given
    qonto.throttle(2, retry_after="3")
    waits = Waits()
    # when
    organization = api_key_client(qonto, sleep=waits).get_organization()
    # then
    assert organization["name"] == "SYAGA Consulting"
    assert waits == [3.0, 3.0]
    assert len(qonto.requests) == 3


def test_429_without_retry_after_backs_off_exponentially(qonto):
    # given
    qonto.throttle(3, retry_after=None)
    waits = Waits()
    # when
    api_key_client(qonto, sleep=waits, backoff=0.5).get_organization()
    # then
    assert waits == [0.5, 1.0, 2.0]


def test_429_really_sleeps_the_retry_after_second(qonto):
    # given
    qonto.throttle(1, retry_after="1")
    # when
    started = time.monotonic()
    api_key_client(qonto).get_organization()
    # then
    assert time.monotonic() - started >= 1.0


def test_429_that_never_ends_gives_up_with_a_clear_error(qonto):
    # given
    qonto.throttle(10, retry_after="1")
    # when
    with pytest.raises(
        QontoRateLimitError,
        match=r"Qonto répond toujours 429 Too Many Requests \(trop de requêtes\) sur GET organization "
        "après 2 nouvelles tentatives ; réessayez plus tard",
    ):
        api_key_client(qonto, sleep=Waits(), max_retries=2).get_organization()
    # then
    assert len(qonto.requests) == 3


def test_errors_carry_code_detail_and_trace_id_even_in_the_object_shape(qonto):
    # given: the non-conforming 422 seen live
    qonto.fail_next(r"/v2/organization", 422, {"errors": {"message": "Not found"}, "trace_id": "abc123"})
    # when
    with pytest.raises(QontoError) as caught:
        api_key_client(qonto).get_organization()
    # then
    assert (caught.value.status, caught.value.detail, caught.value.trace_id) == (422, "Not found", "abc123")


def test_a_bad_status_value_is_reported_with_the_server_detail(qonto):
    # when
    with pytest.raises(QontoError) as caught:
        list(api_key_client(qonto).iter_transactions(MAIN_ACCOUNT["id"], statuses=("approved",)))
    # then
    assert caught.value.code == "not_in_list"
    assert "status must be one of" in str(caught.value)


def test_oauth_refreshes_from_the_settings_token_and_stores_the_rotated_one_encrypted(httpserver, settings):
    # given: refresh tokens rotate and the old one dies right after use
    stub = QontoStub(httpserver, refresh_grace_seconds=0)
    stub.configure(settings, mode="oauth")
    first_refresh_token = settings.QONTO_OAUTH_REFRESH_TOKEN
    # when
    client_from_settings().get_organization()
    # then: a Bearer token was used and the new refresh token is kept, encrypted
    assert stub.requests[-1].headers["Authorization"].startswith("Bearer ory_at_")
    assert stub.token_grants == ["refresh_token"]
    credential = QontoCredential.objects.get()
    stored = token_decrypt(credential.refresh_token_encrypted)
    assert stored.startswith("ory_rt_")
    assert stored != first_refresh_token
    assert stored not in credential.refresh_token_encrypted
    assert token_decrypt(credential.access_token_encrypted) not in credential.access_token_encrypted
    # when: the next process starts (nothing cached) once the access token expired
    QontoCredential.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client_from_settings().get_organization()
    # then: it refreshed with the stored token, not with the spent one from the settings
    assert stub.token_grants == ["refresh_token", "refresh_token"]
    assert stub.requests[-2].form["refresh_token"] == stored


def test_oauth_refreshes_before_the_access_token_expires(httpserver, settings):
    # given: a client whose clock we move
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    now = [timezone.now()]
    auth = OAuthAuth(
        client_id=stub.client_id,
        client_secret=stub.client_secret,
        token_url=stub.token_url,
        initial_refresh_token=settings.QONTO_OAUTH_REFRESH_TOKEN,
        margin=dt.timedelta(minutes=2),
        clock=lambda: now[0],
    )
    client = QontoClient(stub.base_url, auth)
    client.get_organization()
    first_token = stub.requests[-1].headers["Authorization"]
    # when: 50 minutes later, still well before expiry
    now[0] += dt.timedelta(minutes=50)
    client.get_organization()
    # then: same token
    assert stub.requests[-1].headers["Authorization"] == first_token
    assert stub.token_grants == ["refresh_token"]
    # when: 59 minutes in, inside the 2-minute margin, the old token still valid on the server
    now[0] += dt.timedelta(minutes=9)
    client.get_organization()
    # then: a new token was fetched first
    assert stub.token_grants == ["refresh_token", "refresh_token"]
    assert stub.requests[-1].headers["Authorization"] != first_token
    assert stub.access_tokens[first_token.removeprefix("Bearer ")] > time.time()


def test_oauth_token_revoked_early_is_refreshed_once_and_the_call_retried(httpserver, settings):
    # given
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    client = client_from_settings()
    client.get_organization()
    # when
    stub.revoke_access_tokens()
    organization = client.get_organization()
    # then
    assert organization["name"] == "SYAGA Consulting"
    assert stub.token_grants == ["refresh_token", "refresh_token"]


def test_oauth_bad_client_secret_is_a_clear_error(httpserver, settings):
    # given
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    settings.QONTO_OAUTH_CLIENT_SECRET = "wrong"
    # when / then
    with pytest.raises(
        QontoAuthError,
        match=r"Qonto OAuth a refusé la demande de jeton \(401 invalid_client : .*\) ; vérifiez "
        "QONTO_OAUTH_CLIENT_ID / QONTO_OAUTH_CLIENT_SECRET",
    ):
        client_from_settings().get_organization()
    assert not QontoCredential.objects.exists()


def test_sandbox_staging_token_goes_on_every_call_including_the_token_endpoint(httpserver, settings):
    # given
    stub = QontoStub(httpserver, staging_token="stg-token-123")
    stub.configure(settings, mode="oauth")
    # when
    client = client_from_settings()
    client.get_organization()
    list(client.iter_transactions(MAIN_ACCOUNT["id"]))
    # then
    assert [r.path for r in stub.requests] == ["/oauth2/token", "/v2/organization", "/v2/transactions"]
    assert all(r.headers.get("X-Qonto-Staging-Token") == "stg-token-123" for r in stub.requests)


def test_sandbox_without_staging_token_names_the_setting(httpserver, settings):
    # given: the sandbox token endpoint answers HTML when the staging header is missing
    stub = QontoStub(httpserver, staging_token="stg-token-123")
    stub.configure(settings, mode="oauth")
    settings.QONTO_STAGING_TOKEN = ""
    # when / then
    with pytest.raises(
        QontoAuthError, match=r"sans JSON \(sur le bac à sable, QONTO_STAGING_TOKEN est-il renseigné \?\)"
    ):
        client_from_settings().get_organization()


def test_staging_token_with_api_key(httpserver, settings):
    # given
    stub = QontoStub(httpserver, staging_token="stg-token-123")
    stub.configure(settings)
    # when
    client_from_settings().get_organization()
    # then
    assert stub.requests[-1].headers["X-Qonto-Staging-Token"] == "stg-token-123"
    assert stub.requests[-1].headers["Authorization"] == f"{stub.login}:{stub.secret_key}"


def test_authorization_code_flow_through_the_staff_views(httpserver, settings, admin_client):
    # given
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    settings.QONTO_OAUTH_REFRESH_TOKEN = ""
    # when: a staff user starts the authorization
    start = admin_client.get(reverse("banking:qonto-oauth-start"))
    # then: sent to Qonto's authorize page with a state
    assert start.status_code == 302
    assert start["Location"].startswith(stub.server.url_for("/oauth2/auth"))
    state = start["Location"].split("state=")[1].split("&")[0]
    # when: Qonto comes back with a code
    callback = reverse("banking:qonto-oauth-callback")
    back = admin_client.get(callback, {"code": stub.issue_code(), "state": state})
    # then: tokens stored and usable
    assert back.status_code == 302
    assert stub.token_grants == ["authorization_code"]
    assert QontoCredential.objects.get().refresh_token_encrypted
    client_from_settings().get_organization()
    assert stub.token_grants == ["authorization_code"]  # the fresh access token was reused


def test_oauth_callback_refuses_a_forged_state(httpserver, settings, admin_client):
    # given
    stub = QontoStub(httpserver)
    stub.configure(settings, mode="oauth")
    admin_client.get(reverse("banking:qonto-oauth-start"))
    # when
    callback = reverse("banking:qonto-oauth-callback")
    response = admin_client.get(callback, {"code": stub.issue_code(), "state": "x"})
    # then
    assert response.status_code == 400
    assert not QontoCredential.objects.exists()


def test_missing_configuration_names_the_settings(settings):
    # given
    settings.QONTO_LOGIN = settings.QONTO_SECRET_KEY = ""
    settings.QONTO_OAUTH_CLIENT_ID = settings.QONTO_OAUTH_CLIENT_SECRET = ""
    # when / then
    with pytest.raises(
        QontoError,
        match=r"^Qonto n'est pas configuré : renseignez QONTO_LOGIN et QONTO_SECRET_KEY \(clé d'API\)",
    ):
        client_from_settings()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"amount": 1200.0, "amount_cents": 120000}, Decimal("1200.00")),
        ({"amount": 0.3, "amount_cents": 30}, Decimal("0.30")),
        ({"amount": 50.01}, Decimal("50.01")),
        ({"amount": "50.00"}, Decimal("50.00")),
        ({"amount": "10,00"}, Decimal("10.00")),
        ({"amount_cents": None, "amount": 19.99}, Decimal("19.99")),
    ],
)
def test_amounts_are_exact_decimals(data, expected):
    assert amount_from_api(data) == expected
