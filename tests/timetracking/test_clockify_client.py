"""The real Clockify client against a local server speaking the documented contract (paging, 429, 401,
running timer)."""

import datetime as dt

import pytest

from tests.timetracking.clockify_stub import API_KEY, ClockifyStub
from timetracking.clients.clockify import (
    ClockifyAuthError,
    ClockifyClient,
    ClockifyConfigError,
    ClockifyRateLimitError,
    client_from_settings,
    duration_seconds,
)

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


class Waits(list):
    """Records the back-off the client asks for instead of sleeping it (the waits are what we check)."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def clockify(httpserver, settings):
    stub = ClockifyStub(httpserver)
    stub.configure(settings)
    return stub


def client(stub, **kwargs):
    return ClockifyClient(stub.base_url, stub.api_key, stub.workspace_id, **kwargs)


def test_every_page_is_read_until_last_page_true_with_the_api_key_header(clockify):
    # given: 450 entries for one user
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    for i in range(450):
        clockify.add_entry(jean, start=T0 + dt.timedelta(hours=i), end=T0 + dt.timedelta(hours=i, minutes=30))
    # when
    seen = list(client(clockify).iter_time_entries(jean["id"]))
    # then
    assert len(seen) == 450
    assert len({e["id"] for e in seen}) == 450
    calls = clockify.entry_requests()
    assert [c.arg("page") for c in calls] == ["1", "2", "3"]
    assert {c.arg("page-size") for c in calls} == {"200"}
    assert all(c.headers["X-Api-Key"] == API_KEY for c in calls)
    assert "Authorization" not in calls[0].headers


def test_a_server_without_last_page_header_stops_on_a_short_page(clockify):
    # given
    clockify.send_last_page = False
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    for i in range(5):
        clockify.add_entry(jean, start=T0 + dt.timedelta(hours=i), end=T0 + dt.timedelta(hours=i, minutes=5))
    # when
    seen = list(client(clockify).iter_time_entries(jean["id"], page_size=2))
    # then
    assert len(seen) == 5
    assert len(clockify.entry_requests()) == 3


def test_429_is_retried_after_the_delay_the_server_asks(clockify):
    # given
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(jean, start=T0, end=T0 + dt.timedelta(hours=1))
    clockify.throttle(2, retry_after="7")
    waits = Waits()
    # when
    seen = list(client(clockify, sleep=waits).iter_time_entries(jean["id"]))
    # then
    assert len(seen) == 1
    assert waits == [7, 7]
    assert len(clockify.entry_requests()) == 3


def test_429_without_retry_after_backs_off_exponentially_then_gives_up(clockify):
    # given
    clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.throttle(10, retry_after=None)
    waits = Waits()
    # when
    with pytest.raises(
        ClockifyRateLimitError, match=r"répond toujours 429 Too Many Requests .* réessayez plus tard"
    ):
        client(clockify, sleep=waits, max_retries=3).workspace_users()
    # then
    assert waits == [1, 2, 4]


def test_a_refused_key_is_a_clear_401_not_retried(clockify):
    # given
    bad = ClockifyClient(clockify.base_url, "not-the-key", clockify.workspace_id, sleep=Waits())
    # when
    with pytest.raises(ClockifyAuthError) as caught:
        bad.workspace_users()
    # then
    assert caught.value.http_status == 401
    assert caught.value.code == 4003
    assert "« Api key does not exist », code 4003" in str(caught.value)
    assert "la clé d'API est refusée : vérifiez CLOCKIFY_API_KEY" in str(caught.value)
    assert len(clockify.requests) == 1


def test_no_key_is_a_configuration_error_before_any_call(clockify, settings):
    # given
    settings.CLOCKIFY_API_KEY = ""
    # when / then
    with pytest.raises(ClockifyConfigError, match="Clockify n'est pas configuré : CLOCKIFY_API_KEY est vide"):
        client_from_settings()
    assert clockify.requests == []


def test_the_running_timer_is_asked_with_in_progress_true(clockify):
    # given: a finished entry and a running timer
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(jean, start=T0, end=T0 + dt.timedelta(hours=1), project="Audit", client="Pharmabest")
    running = clockify.add_entry(jean, start=T0 + dt.timedelta(hours=2), project="Audit", client="Pharmabest")
    # when
    entry = client(clockify).running_entry(jean["id"])
    # then
    assert entry["id"] == running["id"]
    assert entry["timeInterval"]["end"] is None
    assert entry["project"]["clientName"] == "Pharmabest"
    assert clockify.entry_requests()[-1].arg("in-progress") == "true"


def test_no_running_timer_is_none(clockify):
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    assert client(clockify).running_entry(jean["id"]) is None


def test_the_workspace_defaults_to_the_key_owner_s_active_one(clockify, settings):
    # given
    clockify.configure(settings, workspace=False)
    clockify.add_user("Jean Dupont", "jean@syaga.fr")
    # when
    users = client_from_settings().workspace_users()
    # then
    assert [u["email"] for u in users] == ["jean@syaga.fr"]
    assert clockify.requests[0].path == "/api/v1/user"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT2H54M", 10440),
        ("PT45S", 45),
        ("PT1H30M", 5400),
        ("PT0S", 0),
        ("P1DT2H", 93600),
        (5400, 5400),
        (None, None),
    ],
)
def test_iso_8601_durations(text, seconds):
    assert duration_seconds(text) == seconds


def test_a_deleted_entry_reads_as_none(clockify):
    assert client(clockify).time_entry("0" * 24) is None
