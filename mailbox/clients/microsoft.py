"""Microsoft 365 mailbox access with the OAuth 2.0 client credentials of an Entra application.

The token comes from the tenant's token endpoint (``https://login.microsoftonline.com/<tenant>/oauth2/
v2.0/token``, form POST ``grant_type=client_credentials``, scope ``https://outlook.office365.com/.default``),
is kept in the process's memory (never written anywhere) and renewed five minutes before it expires, or at
once when a server refuses it. SMTP and IMAP then sign in with SASL XOAUTH2 (``user=<mailbox>^Aauth=Bearer
<token>^A^A``), the same protocols as any other server: one code path for Microsoft 365 and for a plain
password server.

Exchange Online needs, once, from an administrator: the application's service principal registered in
Exchange (``New-ServicePrincipal``), full access to the mailbox (``Add-MailboxPermission``), the
SMTP.SendAsApp and IMAP.AccessAsApp application permissions granted, and SMTP AUTH enabled on that mailbox
(``Set-CASMailbox -SmtpClientAuthenticationDisabled $false``).
"""

import threading
import time
from dataclasses import dataclass

import requests
from django.conf import settings

from syaga.core.errors import BusinessError

RENEW_MARGIN_SECONDS = 300
TIMEOUT_SECONDS = 20


class TokenError(BusinessError):
    """The token endpoint refused or did not answer; the message says what Microsoft said."""


@dataclass
class _Cached:
    value: str
    expires_at: float  # time.monotonic()


class ClientCredentials:
    def __init__(self, *, token_url: str, client_id: str, client_secret: str, scope: str):
        if not (token_url and client_id and client_secret):
            raise TokenError(
                "OAuth Microsoft 365 incomplet : M365_TENANT_ID (ou M365_TOKEN_URL), M365_CLIENT_ID et "
                "M365_CLIENT_SECRET sont nécessaires"
            )
        self.token_url, self.client_id, self.client_secret, self.scope = (
            token_url,
            client_id,
            client_secret,
            scope,
        )
        self._cached: _Cached | None = None
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the endpoint was asked (the cache at work, for tests and health)

    def token(self) -> str:
        with self._lock:
            cached = self._cached
            if cached is not None and cached.expires_at - RENEW_MARGIN_SECONDS > time.monotonic():
                return cached.value
            self._cached = self._fetch()
            return self._cached.value

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _fetch(self) -> _Cached:
        self.fetches += 1
        try:
            response = requests.post(
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "scope": self.scope,
                },
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise TokenError(f"jeton Microsoft 365 : {self.token_url} injoignable ({exc})") from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code != 200 or not data.get("access_token"):
            detail = data.get("error_description") or data.get("error") or response.text[:200]
            raise TokenError(f"jeton Microsoft 365 refusé (HTTP {response.status_code}) : {detail}")
        lifetime = int(data.get("expires_in") or 3600)
        return _Cached(value=data["access_token"], expires_at=time.monotonic() + lifetime)


def token_url() -> str:
    if settings.M365_TOKEN_URL:
        return settings.M365_TOKEN_URL
    if settings.M365_TENANT_ID:
        return f"https://login.microsoftonline.com/{settings.M365_TENANT_ID}/oauth2/v2.0/token"
    return ""


_CLIENTS: dict[tuple, ClientCredentials] = {}
_CLIENTS_LOCK = threading.Lock()


def m365_credentials() -> ClientCredentials:
    """The process's token holder for the configured application (one per configuration)."""
    key = (token_url(), settings.M365_CLIENT_ID, settings.M365_CLIENT_SECRET, settings.M365_SCOPE)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = ClientCredentials(
                token_url=key[0], client_id=key[1], client_secret=key[2], scope=key[3]
            )
        return _CLIENTS[key]


def oauth_enabled() -> bool:
    return settings.MAIL_AUTH == "m365_oauth"


def xoauth2_string(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64, which smtplib and imaplib add)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"
