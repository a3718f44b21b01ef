import json
import logging
import time
from decimal import Decimal

import pytest
from django.urls import reverse
from django_q.conf import Conf
from django_q.models import OrmQ

from banking.models import WebhookEvent
from banking.services.webhooks import (
    REFETCH_TASK,
    WebhookPayloadError,
    WebhookSignatureError,
    signature_verify,
    webhook_transaction_parse,
)
from tests.banking.qonto_stub import MAIN_ACCOUNT, make_transaction, sign, webhook_event

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + "s" * 40
URL = "/banking/webhooks/qonto/"

# The published test vector (Qonto webhook docs).
VECTOR_SECRET = "test-secret"
VECTOR_BODY = b'{"test":"data"}'
VECTOR_T = 1704110400
VECTOR_HEADER = "t=1704110400,v1=56aff06dc227db80d6568a5070f912c601c31f20451745d257cbc0b5dfa93805"


@pytest.fixture(autouse=True)
def _webhook_secret(settings, monkeypatch):
    settings.QONTO_WEBHOOK_SECRET = SECRET
    # The ORM broker, not the synchronous mode: the queued task is then visible as an OrmQ row.
    monkeypatch.setattr(Conf, "SYNC", False)


def post(client, body: bytes, header: str | None):
    extra = {"HTTP_X_QONTO_SIGNATURE": header} if header is not None else {}
    return client.post(URL, data=body, content_type="application/json", **extra)


def signed(event: dict, *, secret: str = SECRET, at: int | None = None) -> tuple[bytes, str]:
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, sign(secret, body, int(time.time()) if at is None else at)


def queued() -> list[tuple[str, tuple]]:
    return [(q.task["func"], q.task["args"]) for q in OrmQ.objects.all()]


def test_the_published_test_vector_verifies():
    assert (
        signature_verify(secret=VECTOR_SECRET, header=VECTOR_HEADER, body=VECTOR_BODY, now=VECTOR_T + 10)
        == VECTOR_T
    )


def test_the_test_vector_fails_on_a_reserialized_body_or_another_secret():
    with pytest.raises(WebhookSignatureError, match=r"^X-Qonto-Signature ne correspond pas au corps$"):
        signature_verify(secret=VECTOR_SECRET, header=VECTOR_HEADER, body=b'{"test": "data"}', now=VECTOR_T)
    with pytest.raises(WebhookSignatureError, match=r"^X-Qonto-Signature ne correspond pas au corps$"):
        signature_verify(secret="other-secret", header=VECTOR_HEADER, body=VECTOR_BODY, now=VECTOR_T)


def test_the_test_vector_is_stale_six_minutes_later_and_refused_from_the_future():
    with pytest.raises(
        WebhookSignatureError, match=r"de X-Qonto-Signature est à plus de 300 s de l'heure actuelle$"
    ):
        signature_verify(secret=VECTOR_SECRET, header=VECTOR_HEADER, body=VECTOR_BODY, now=VECTOR_T + 360)
    with pytest.raises(
        WebhookSignatureError, match=r"de X-Qonto-Signature est à plus de 300 s de l'heure actuelle$"
    ):
        signature_verify(secret=VECTOR_SECRET, header=VECTOR_HEADER, body=VECTOR_BODY, now=VECTOR_T - 360)


def test_a_good_event_is_stored_once_and_queues_a_refetch_without_a_staff_session(
    client, django_capture_on_commit_callbacks
):
    # given: an anonymous caller (Qonto), a signed delivery
    tx = make_transaction()
    event = webhook_event(tx)
    body, header = signed(event)
    # when
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, header)
    elapsed = time.monotonic() - started
    # then
    assert response.status_code == 200
    assert response.json() == {"id": event["id"], "duplicate": False}
    assert elapsed < 1.0
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.event_type, stored.transaction_qonto_id) == (
        event["id"],
        "v1/transactions",
        tx["id"],
    )
    assert stored.payload == event
    assert queued() == [(REFETCH_TASK, (tx["id"],))]


def test_the_same_event_twice_is_one_row_and_one_task(client, django_capture_on_commit_callbacks):
    # given
    body, header = signed(webhook_event(make_transaction()))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, body, header)
        again = post(client, body, header)
    # then
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1
    assert len(queued()) == 1


def test_a_bad_signature_is_401_and_stores_nothing(client, django_capture_on_commit_callbacks):
    # given: signed with another secret
    body, header = signed(webhook_event(make_transaction()), secret="not-our-secret-" * 3)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, header)
    # then
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()
    assert queued() == []


@pytest.mark.parametrize("header", [None, "", "v1=abc", "t=abc,v1=abc", "sha256=deadbeef"])
def test_a_missing_or_malformed_signature_is_401(client, header):
    body, _ = signed(webhook_event(make_transaction()))
    assert post(client, body, header).status_code == 401
    assert not WebhookEvent.objects.exists()


def test_a_tampered_body_is_401(client):
    body, header = signed(webhook_event(make_transaction()))
    tampered = body.replace(b'"amount":1200.0', b'"amount":1.0')
    assert tampered != body
    assert post(client, tampered, header).status_code == 401


def test_a_stale_timestamp_is_401(client):
    # given: correctly signed, but 6 minutes ago (a replay)
    body, header = signed(webhook_event(make_transaction()), at=int(time.time()) - 360)
    # when
    response = post(client, body, header)
    # then
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_an_unset_secret_refuses_everything(client, settings):
    # given
    body, header = signed(webhook_event(make_transaction()))
    settings.QONTO_WEBHOOK_SECRET = ""
    # when / then
    assert post(client, body, header).status_code == 401
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "evt-1", "type": "v1/transactions", "data": {',  # not JSON
        b'["not", "an", "object"]',
        b'{"type": "v1/transactions", "data": {"id": "tx-1"}}',  # no event id
        b'{"id": "evt-1", "type": "v1/transactions", "data": {}}',  # no transaction id
        b'{"id": "evt-1", "data": {"id": "tx-1"}}',  # no type
    ],
)
def test_malformed_json_or_envelope_is_400_and_stores_nothing(client, body):
    # given: correctly signed
    header = sign(SECRET, body, int(time.time()))
    # when
    response = post(client, body, header)
    # then
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_other_event_types_are_acknowledged_without_a_refetch(client, django_capture_on_commit_callbacks):
    # given
    body, header = signed({"id": "evt-acc-1", "type": "v1/accounts", "data": {"id": "acc"}})
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, header)
    # then
    assert response.status_code == 200
    assert WebhookEvent.objects.get().event_type == "v1/accounts"
    assert queued() == []


def test_the_endpoint_is_where_the_subscription_points():
    assert reverse("banking:qonto-webhook") == URL


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize("variant", ["numbers", "strings"])
def test_both_documented_payload_renderings_are_understood(
    variant, client, django_capture_on_commit_callbacks
):
    # given
    tx = make_transaction(cents=5001)
    event = webhook_event(tx, variant=variant, event="updated")
    # when
    signal = webhook_transaction_parse(event["data"])
    body, header = signed(event)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, body, header)
    # then
    assert (signal.qonto_id, signal.bank_account_id, signal.amount, signal.event) == (
        tx["id"],
        MAIN_ACCOUNT["id"],
        Decimal("50.01"),
        "updated",
    )
    assert response.status_code == 200
    assert queued() == [(REFETCH_TASK, (tx["id"],))]


def test_parse_refuses_data_without_id():
    with pytest.raises(
        WebhookPayloadError, match=r"^« data\.id » \(l'identifiant de la transaction\) manque$"
    ):
        webhook_transaction_parse({"amount": "12.00"})


@pytest.mark.parametrize("size", [5 * 1024 * 1024, 300 * 1024])
def test_an_oversized_body_is_413_in_json_without_a_traceback(client, caplog, size):
    # given: a correctly signed event padded to 5 MB (over Django's own limit) or 300 KB (under it)
    event = webhook_event(make_transaction())
    event["padding"] = "x" * size
    body, header = signed(event)
    # when
    with caplog.at_level(logging.DEBUG):
        response = post(client, body, header)
    # then: a machine-readable refusal, nothing stored, no traceback in the logs
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "corps trop gros (limite : 262144 octets)"}
    assert not WebhookEvent.objects.exists()
    assert [r for r in caplog.records if r.exc_info] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_body_at_the_limit_is_read(client, settings):
    # given: a signed event just under a 4 KB limit
    settings.QONTO_WEBHOOK_MAX_BYTES = 4096
    event = webhook_event(make_transaction())
    body, header = signed(event)
    event["padding"] = "x" * (4096 - len(body) - len(',"padding":""'))
    body, header = signed(event)
    assert len(body) == 4096
    # when / then
    assert post(client, body, header).status_code == 200
    assert post(client, body + b" ", sign(SECRET, body + b" ", int(time.time()))).status_code == 413
