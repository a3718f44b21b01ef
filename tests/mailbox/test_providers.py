"""Microsoft 365 with OAuth 2.0 client credentials: a local token endpoint, and local SMTP and IMAP peers
that accept XOAUTH2 (aiosmtpd with the mechanism, Dovecot's oauth2 passdb asking a local introspection
endpoint)."""

import json
from io import StringIO
from urllib.parse import parse_qs

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from werkzeug import Request, Response

from invoicing.models.invoice import Status
from mailbox.clients import microsoft
from mailbox.clients.microsoft import ClientCredentials, TokenError, m365_credentials
from mailbox.models import InboundMessage
from mailbox.services import inbox, sending
from mailbox.services.connection import imap_config, mail_health
from tests.mailbox.conftest import dovecot_root, start_dovecot, stop_dovecot
from tests.mailbox.helpers import issued_invoice, reply

TOKEN_PATH = "/tenant-id/oauth2/v2.0/token"


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    microsoft._CLIENTS.clear()
    yield
    microsoft._CLIENTS.clear()


class TokenEndpoint:
    """Hands out the next token of ``tokens`` at each request, and keeps the forms it received."""

    def __init__(self, tokens, expires_in=3600):
        self.tokens = list(tokens)
        self.expires_in = expires_in
        self.forms = []

    def __call__(self, request: Request) -> Response:
        self.forms.append({k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()})
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        body = {"token_type": "Bearer", "expires_in": self.expires_in, "access_token": token}
        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def m365(settings, httpserver):
    def configure(tokens, expires_in=3600):
        endpoint = TokenEndpoint(tokens, expires_in)
        httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_handler(endpoint)
        settings.MAIL_AUTH = "m365_oauth"
        settings.M365_TOKEN_URL = httpserver.url_for(TOKEN_PATH)
        settings.M365_CLIENT_ID = "app-id"
        settings.M365_CLIENT_SECRET = "app-secret"
        settings.M365_MAILBOX = "facturation@syaga.fr"
        return endpoint

    return configure


def test_the_token_is_asked_with_the_client_credentials_cached_and_renewed_before_it_expires(
    m365, monkeypatch
):
    endpoint = m365(["tok-1", "tok-2"])
    credentials = m365_credentials()
    clock = [1000.0]
    monkeypatch.setattr(microsoft.time, "monotonic", lambda: clock[0])
    # when: two uses within the hour
    assert credentials.token() == "tok-1"
    clock[0] += 3000
    assert credentials.token() == "tok-1"
    # then: one request, the client credentials grant for Exchange Online
    assert endpoint.forms == [
        {
            "grant_type": "client_credentials",
            "client_id": "app-id",
            "client_secret": "app-secret",
            "scope": "https://outlook.office365.com/.default",
        }
    ]
    # when: less than five minutes left
    clock[0] += 400
    # then: renewed before it expires
    assert credentials.token() == "tok-2"
    assert len(endpoint.forms) == 2


def test_a_refused_token_request_says_what_microsoft_said(httpserver):
    httpserver.expect_request(TOKEN_PATH, method="POST").respond_with_json(
        {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
        status=401,
    )
    credentials = ClientCredentials(
        token_url=httpserver.url_for(TOKEN_PATH), client_id="a", client_secret="b", scope="s"
    )
    with pytest.raises(TokenError, match=r"HTTP 401.*AADSTS7000215: Invalid client secret provided"):
        credentials.token()


@pytest.mark.django_db
def test_invoices_leave_through_smtp_signed_in_with_xoauth2(seller, smtp_server, m365, settings):
    endpoint = m365(["tok-1"])
    smtp_server.tokens = {"tok-1"}
    settings.EMAIL_HOST_USER = "ignored@syaga.fr"
    first, second = issued_invoice(), issued_invoice()
    # when
    sending.invoices_send(invoice_ids=[first.pk])
    sending.invoices_send(invoice_ids=[second.pk])
    # then: both accepted, signed in as the mailbox with the token, asked once
    assert len(smtp_server.envelopes) == 2
    assert smtp_server.auth_log == [("facturation@syaga.fr", "tok-1"), ("facturation@syaga.fr", "tok-1")]
    assert len(endpoint.forms) == 1
    first.refresh_from_db()
    assert first.status == Status.SENT


@pytest.mark.django_db
def test_a_revoked_token_is_renewed_once_and_the_message_leaves(seller, smtp_server, m365):
    endpoint = m365(["revoked", "tok-2"])
    smtp_server.tokens = {"tok-2"}
    invoice = issued_invoice()
    sending.invoices_send(invoice_ids=[invoice.pk])
    assert [token for _, token in smtp_server.auth_log] == ["revoked", "tok-2"]
    assert len(smtp_server.envelopes) == 1
    assert len(endpoint.forms) == 2


@pytest.mark.django_db
def test_a_token_the_server_keeps_refusing_fails_the_send_and_retries_later(seller, smtp_server, m365):
    m365(["bad"])
    smtp_server.tokens = {"good"}
    invoice = issued_invoice()
    sending.invoices_send(invoice_ids=[invoice.pk])
    row = invoice.mail_messages.get()
    assert row.state == "queued"
    assert "SMTPAuthenticationError" in row.last_error
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED


class Introspection:
    """Dovecot's oauth2 passdb asks here whether a bearer token is valid (RFC 7662 style)."""

    def __init__(self, valid):
        self.valid = valid
        self.asked = []

    def __call__(self, request: Request) -> Response:
        token = parse_qs(request.get_data(as_text=True)).get("token", [""])[0]
        self.asked.append(token)
        body = {"active": "true", "username": "billing"} if token == self.valid else {"active": "false"}
        return Response(
            json.dumps(body), status=200 if token == self.valid else 401, content_type="application/json"
        )


@pytest.mark.django_db
def test_the_inbox_is_read_over_imap_signed_in_with_xoauth2(seller, m365, settings, httpserver):
    m365(["imap-token"])
    introspection = Introspection(valid="imap-token")
    httpserver.expect_request("/introspect", method="POST").respond_with_handler(introspection)
    with dovecot_root() as root:
        server = start_dovecot(root, introspection_url=httpserver.url_for("/introspect"))
        try:
            server.append(reply(subject="Facture", body="Bien reçu, merci."))
            settings.IMAP_URL = f"imap://billing@127.0.0.1:{server.port}/INBOX"  # no password: OAuth
            assert imap_config().password == ""
            # when
            report = inbox.inbox_poll()
        finally:
            stop_dovecot(server)
    # then
    assert report.folders[0].stored == 1
    assert InboundMessage.objects.get().category == "ack"
    assert introspection.asked == ["imap-token"]


@pytest.mark.django_db
def test_health_tells_whether_the_token_can_be_obtained(m365, httpserver, settings, smtp_server):
    m365(["tok"])
    smtp_server.tokens = {"tok"}
    settings.IMAP_URL = ""
    lines = mail_health()
    assert [(line.name, line.ok) for line in lines] == [("jeton Microsoft 365", True), ("SMTP", True)]
    settings.M365_CLIENT_SECRET = ""
    microsoft._CLIENTS.clear()
    [token_line] = mail_health(check_servers=False)
    assert not token_line.ok
    assert "M365_CLIENT_SECRET" in token_line.detail


@pytest.mark.django_db
def test_check_mail_says_what_is_wrong(m365, settings):
    m365(["tok"])
    settings.M365_CLIENT_SECRET = ""
    out = StringIO()
    with pytest.raises(CommandError, match="la messagerie n'est pas prête"):
        call_command("check_mail", "--token-only", stdout=out)
    assert "ÉCHEC  jeton Microsoft 365 : OAuth Microsoft 365 incomplet" in out.getvalue()
