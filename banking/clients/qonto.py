"""Qonto Business API v2 client (``/v2/organization``, ``/v2/transactions``) and its two auth modes.

Contract: ``shared/contracts/qonto-clockify.md`` part A. API-key auth sends ``Authorization: login:secret``
(no ``Basic``, no ``Bearer``); OAuth sends ``Bearer <access token>`` and refreshes it before it expires,
keeping the rotating refresh token encrypted in :class:`banking.models.QontoCredential`. On the sandbox
every call, the token endpoint included, carries ``X-Qonto-Staging-Token``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from banking.models import QontoCredential
from syaga.core.http import RETRYABLE_STATUSES, backoff_seconds, wait_before_retry
from syaga.core.money import quantize

log = logging.getLogger(__name__)

STAGING_HEADER = "X-Qonto-Staging-Token"
DEFAULT_STATUSES = ("pending", "declined", "completed")
MAX_PER_PAGE = 100


class QontoError(Exception):
    """Qonto answered an error (or not at all). Carries the JSON:API error fields when there are any."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        detail: str = "",
        trace_id: str = "",
        url: str = "",
    ):
        self.status = status
        self.code = code
        self.detail = detail
        self.trace_id = trace_id
        self.url = url
        super().__init__(message)


class QontoAuthError(QontoError):
    """401/403: the credentials (or the OAuth scope) are refused."""


class QontoRateLimitError(QontoError):
    """Still 429 after the bounded retries."""


class QontoConfigError(QontoError):
    """The settings do not describe a usable way to authenticate."""


# --- amounts and dates -------------------------------------------------------------------------------------


def amount_from_api(obj: dict, field: str = "amount") -> Decimal | None:
    """``<field>_cents`` (int) / 100 when present, else ``<field>`` as a number or a string, never through
    float arithmetic. ``None`` when neither is there."""
    cents = obj.get(f"{field}_cents")
    if cents is not None and not isinstance(cents, bool):
        if isinstance(cents, int):
            return Decimal(cents) / 100
        try:
            return quantize(str(cents), Decimal(1)) / 100
        except InvalidOperation as exc:
            raise ValueError(f"{field}_cents « {cents} » n'est pas un nombre") from exc
    value = obj.get(field)
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    # A doc rendering shows "10,00"; a comma there is a decimal comma (Qonto never groups thousands).
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"{field} « {value} » n'est pas un nombre") from exc


def datetime_from_api(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"« {value} » n'est pas une date-heure ISO 8601")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def datetime_to_api(value: dt.datetime) -> str:
    """``2019-01-10T11:47:53.123Z``: UTC, milliseconds (truncated, so a filter never skips a row)."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# --- authentication ----------------------------------------------------------------------------------------


class ApiKeyAuth:
    """Static key: ``Authorization: {login}:{secret-key}``."""

    mode = "api_key"

    def __init__(self, login: str, secret_key: str):
        if not login or not secret_key:
            raise QontoConfigError("l'accès à Qonto par clé d'API demande QONTO_LOGIN et QONTO_SECRET_KEY")
        self.login = login
        self.secret_key = secret_key

    def authorization(self) -> str:
        return f"{self.login}:{self.secret_key}"

    def invalidate(self) -> bool:
        """Nothing to renew: a refused key stays refused."""
        return False

    def settings_hint(self) -> str:
        return "vérifiez QONTO_LOGIN et QONTO_SECRET_KEY"


def _fernet():
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"syaga.banking.qonto-credential:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def token_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def token_decrypt(value: str) -> str:
    from cryptography.fernet import InvalidToken

    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise QontoConfigError(
            "le jeton OAuth Qonto enregistré ne se déchiffre pas (SECRET_KEY a changé ?) : autorisez à "
            "nouveau l'application ou renseignez QONTO_OAUTH_REFRESH_TOKEN"
        ) from exc


@dataclass
class TokenState:
    access_token: str = ""
    refresh_token: str = ""
    expires_at: dt.datetime | None = None


class DbTokenStore:
    """The OAuth tokens in the single :class:`QontoCredential` row, encrypted with a key from SECRET_KEY."""

    def load(self) -> TokenState:
        row = QontoCredential.objects.order_by("pk").first()
        if row is None:
            return TokenState()
        return TokenState(
            token_decrypt(row.access_token_encrypted),
            token_decrypt(row.refresh_token_encrypted),
            row.expires_at,
        )

    def refresh_locked(
        self, renew: Callable[[TokenState], TokenState], is_fresh: Callable[[TokenState], bool]
    ) -> TokenState:
        """Run ``renew`` holding the credential row's lock, unless another worker already renewed it.

        Refresh tokens rotate: two workers refreshing with the same one would race, so the row is locked
        (PostgreSQL) for the duration of the token call (bounded by the HTTP timeout).
        """
        with transaction.atomic():
            row = QontoCredential.objects.select_for_update().order_by("pk").first()
            current = TokenState()
            if row is not None:
                current = TokenState(
                    token_decrypt(row.access_token_encrypted),
                    token_decrypt(row.refresh_token_encrypted),
                    row.expires_at,
                )
                if is_fresh(current):
                    return current
            new = renew(current)
            if row is None:
                row = QontoCredential()
            row.access_token_encrypted = token_encrypt(new.access_token)
            row.refresh_token_encrypted = token_encrypt(new.refresh_token)
            row.expires_at = new.expires_at
            row.save()
            return new

    def save(self, state: TokenState) -> None:
        self.refresh_locked(lambda _current: state, lambda _current: False)


class OAuthAuth:
    """OAuth 2.0 authorization-code flow: ``Bearer`` access token, renewed ``margin`` before it expires."""

    mode = "oauth"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        token_url: str,
        redirect_uri: str = "",
        initial_refresh_token: str = "",
        staging_token: str = "",
        store: DbTokenStore | None = None,
        margin: dt.timedelta = dt.timedelta(seconds=120),
        timeout: float = 15,
        clock: Callable[[], dt.datetime] = timezone.now,
        session: requests.Session | None = None,
    ):
        if not client_id or not client_secret:
            raise QontoConfigError(
                "l'accès à Qonto par OAuth demande QONTO_OAUTH_CLIENT_ID et QONTO_OAUTH_CLIENT_SECRET"
            )
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_url = token_url
        self.redirect_uri = redirect_uri
        self.initial_refresh_token = initial_refresh_token
        self.staging_token = staging_token
        self.store = store or DbTokenStore()
        self.margin = margin
        self.timeout = timeout
        self.clock = clock
        self.session = session or requests.Session()
        self._cached: TokenState | None = None
        self._lock = threading.Lock()

    def settings_hint(self) -> str:
        return (
            "vérifiez QONTO_OAUTH_CLIENT_ID / QONTO_OAUTH_CLIENT_SECRET et autorisez à nouveau l'application "
            "(ou renseignez QONTO_OAUTH_REFRESH_TOKEN)"
        )

    # -- the authorization-code flow --

    def authorize_url(
        self, *, state: str, scopes: str = "offline_access organization.read", authorize_url: str = ""
    ) -> str:
        base = authorize_url or self.token_url.rsplit("/", 1)[0] + "/auth"
        query = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": scopes,
            "state": state,
        }
        return f"{base}?{urlencode(query)}"

    def exchange_code(self, code: str, *, code_verifier: str = "") -> TokenState:
        """Trade an authorization code (valid 10 minutes) for the first access and refresh tokens."""
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if code_verifier:
            fields["code_verifier"] = code_verifier
        state = self._token_call(fields, previous_refresh="")
        self.store.save(state)
        self._cached = state
        return state

    # -- per request --

    def _fresh(self, state: TokenState | None) -> bool:
        return bool(
            state
            and state.access_token
            and state.expires_at
            and self.clock() < state.expires_at - self.margin
        )

    def authorization(self) -> str:
        with self._lock:
            if not self._fresh(self._cached):
                stored = self.store.load()
                self._cached = stored if self._fresh(stored) else self._refresh()
            return f"Bearer {self._cached.access_token}"

    def invalidate(self) -> bool:
        """A 401 with a token we believed valid: forget it so the next call refreshes (once)."""
        with self._lock:
            had = self._cached is not None
            self._cached = None
            state = self.store.load()
            if state.access_token:
                state.expires_at = self.clock() - dt.timedelta(seconds=1)
                self.store.save(state)
            return had

    def _refresh(self) -> TokenState:
        def renew(current: TokenState) -> TokenState:
            refresh_token = current.refresh_token or self.initial_refresh_token
            if not refresh_token:
                raise QontoConfigError(
                    "aucun jeton de renouvellement OAuth Qonto : autorisez l'application "
                    "(banking:qonto-oauth-start) ou renseignez QONTO_OAUTH_REFRESH_TOKEN"
                )
            return self._token_call(
                {"grant_type": "refresh_token", "refresh_token": refresh_token},
                previous_refresh=refresh_token,
            )

        return self.store.refresh_locked(renew, self._fresh)

    def _token_call(self, fields: dict, *, previous_refresh: str) -> TokenState:
        data = {**fields, "client_id": self.client_id, "client_secret": self.client_secret}
        headers = {"Accept": "application/json"}
        if self.staging_token:
            headers[STAGING_HEADER] = self.staging_token
        try:
            response = self.session.post(self.token_url, data=data, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise QontoError(
                f"le point d'accès des jetons OAuth de Qonto {self.token_url} ne répond pas : {exc}",
                url=self.token_url,
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            hint = (
                "" if self.staging_token else " (sur le bac à sable, QONTO_STAGING_TOKEN est-il renseigné ?)"
            )
            raise QontoAuthError(
                f"le point d'accès des jetons OAuth de Qonto a répondu {response.status_code} sans JSON"
                f"{hint}",
                status=response.status_code,
                url=self.token_url,
            )
        if response.status_code >= 400 or not body.get("access_token"):
            code = str(body.get("error") or "oauth_error")
            detail = str(body.get("error_description") or body.get("error_hint") or "")
            raise QontoAuthError(
                f"Qonto OAuth a refusé la demande de jeton ({response.status_code} {code} : {detail}) ; "
                f"{self.settings_hint()}",
                status=response.status_code,
                code=code,
                detail=detail,
                url=self.token_url,
            )
        try:
            lifetime = int(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600
        return TokenState(
            access_token=body["access_token"],
            # Refresh tokens rotate; keep the previous one if the server did not send a new one.
            refresh_token=body.get("refresh_token") or previous_refresh,
            expires_at=self.clock() + dt.timedelta(seconds=lifetime),
        )


# --- the client --------------------------------------------------------------------------------------------


def _error_fields(body) -> tuple[str, str, str]:
    """(code, detail, trace_id) from a JSON:API error body, also the ``{"errors": {"message": …}}`` shape."""
    if not isinstance(body, dict):
        return "", "", ""
    trace_id = str(body.get("trace_id") or "")
    errors = body.get("errors")
    first = {}
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
    elif isinstance(errors, dict):
        first = errors
    code = str(first.get("code") or body.get("code") or "")
    detail = str(first.get("detail") or first.get("message") or body.get("message") or "")
    if isinstance(errors, list) and len(errors) > 1:
        detail = "; ".join(str(e.get("detail") or e.get("code")) for e in errors if isinstance(e, dict))
    return code, detail, trace_id


class QontoClient:
    """requests-based client: timeouts, 429 back-off (Retry-After, else exponential), JSON:API errors."""

    def __init__(
        self,
        base_url: str,
        auth: ApiKeyAuth | OAuthAuth,
        *,
        staging_token: str = "",
        timeout: tuple[float, float] = (5, 30),
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.staging_token = staging_token
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "syaga-billing"})

    # -- transport --

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _wait_for(self, response: requests.Response, attempt: int) -> float:
        return wait_before_retry(response.headers, attempt, base=self.backoff, cap=self.max_backoff)

    def request(self, method: str, path: str, *, params=None) -> dict:
        url = self._url(path)
        reauthorized = False
        attempt = 0
        while True:
            headers = {"Authorization": self.auth.authorization()}
            if self.staging_token:
                headers[STAGING_HEADER] = self.staging_token
            try:
                response = self.session.request(
                    method, url, params=params, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                if attempt < self.max_retries and method == "GET":
                    wait = backoff_seconds(attempt, base=self.backoff, cap=self.max_backoff)
                    log.warning(
                        "Qonto %s %s a échoué (%s), nouvel essai dans %.1f s", method, path, exc, wait
                    )
                    self.sleep(wait)
                    attempt += 1
                    continue
                raise QontoError(f"Qonto {method} {path} ne répond pas : {exc}", url=url) from exc
            status = response.status_code
            if status in RETRYABLE_STATUSES:
                if attempt < self.max_retries:
                    wait = self._wait_for(response, attempt)
                    log.warning(
                        "Qonto %s %s a répondu %s, nouvel essai dans %.1f s", method, path, status, wait
                    )
                    self.sleep(wait)
                    attempt += 1
                    continue
                if status == 429:
                    raise QontoRateLimitError(
                        f"Qonto répond toujours 429 Too Many Requests (trop de requêtes) sur {method} {path} "
                        f"après {self.max_retries} nouvelles tentatives ; réessayez plus tard",
                        status=429,
                        url=url,
                        trace_id=response.headers.get("X-Tyk-Trace-Id", ""),
                    )
            if status == 401 and not reauthorized and self.auth.invalidate():
                reauthorized = True  # an OAuth access token revoked early: refresh once and retry
                continue
            if status >= 400:
                raise self._error(method, path, response)
            try:
                return response.json()
            except ValueError as exc:
                raise QontoError(
                    f"Qonto {method} {path} a répondu {status} avec un corps qui n'est pas du JSON",
                    status=status,
                    url=url,
                ) from exc

    def _error(self, method: str, path: str, response: requests.Response) -> QontoError:
        try:
            body = response.json()
        except ValueError:
            body = None
        code, detail, trace_id = _error_fields(body)
        trace_id = trace_id or response.headers.get("X-Tyk-Trace-Id", "")
        status = response.status_code
        text = f"Qonto {method} {path} a répondu {status}"
        if code or detail:
            text += f" ({code} : {detail})" if code else f" ({detail})"
        if trace_id:
            text += f" [trace_id {trace_id}]"
        cls = QontoError
        if status in (401, 403):
            cls = QontoAuthError
            text += f" ; {self.auth.settings_hint()}"
            if "missing required oauth scope" in detail.lower():
                text += " (l'application OAuth a besoin du périmètre organization.read)"
        return cls(text, status=status, code=code, detail=detail, trace_id=trace_id, url=response.url)

    def get(self, path: str, params=None) -> dict:
        return self.request("GET", path, params=params)

    # -- endpoints --

    def get_organization(self) -> dict:
        return self.get("organization")["organization"]

    def list_bank_accounts(self) -> list[dict]:
        return list(self.get_organization().get("bank_accounts") or [])

    def iter_transaction_pages(
        self,
        bank_account_id: str,
        updated_at_from: dt.datetime | None = None,
        *,
        statuses=DEFAULT_STATUSES,
        per_page: int = MAX_PER_PAGE,
    ) -> Iterator[list[dict]]:
        """Every page of ``/v2/transactions`` for one account, oldest update first, until ``next_page`` is
        null (or missing). ``status[]`` is always sent: left out, Qonto may hide declined/pending rows."""
        per_page = max(1, min(int(per_page), MAX_PER_PAGE))
        page = 1
        while True:
            params: list[tuple[str, str]] = [("bank_account_id", bank_account_id)]
            params += [("status[]", status) for status in statuses]
            if updated_at_from is not None:
                params.append(("updated_at_from", datetime_to_api(updated_at_from)))
            params += [("sort_by", "updated_at:asc"), ("page", str(page)), ("per_page", str(per_page))]
            body = self.get("transactions", params=params)
            transactions = body.get("transactions")
            if not isinstance(transactions, list):
                raise QontoError(f"Qonto /v2/transactions page {page} : pas de liste « transactions »")
            yield transactions
            next_page = (body.get("meta") or {}).get("next_page")
            if next_page in (None, "") or not transactions:
                return
            if int(next_page) <= page:
                raise QontoError(
                    f"Qonto /v2/transactions page {page} : la page suivante annoncée ({next_page}) revient "
                    "en arrière"
                )
            page = int(next_page)

    def iter_transactions(
        self,
        bank_account_id: str,
        updated_at_from: dt.datetime | None = None,
        *,
        statuses=DEFAULT_STATUSES,
        per_page: int = MAX_PER_PAGE,
    ) -> Iterator[dict]:
        for page in self.iter_transaction_pages(
            bank_account_id, updated_at_from, statuses=statuses, per_page=per_page
        ):
            yield from page

    def get_transaction(self, qonto_id: str) -> dict:
        return self.get(f"transactions/{qonto_id}")["transaction"]


def client_from_settings(**kwargs) -> QontoClient:
    """The client the settings describe: API key when QONTO_LOGIN/QONTO_SECRET_KEY are set, else OAuth."""
    staging = settings.QONTO_STAGING_TOKEN
    if settings.QONTO_LOGIN or settings.QONTO_SECRET_KEY:
        auth = ApiKeyAuth(settings.QONTO_LOGIN, settings.QONTO_SECRET_KEY)
    elif settings.QONTO_OAUTH_CLIENT_ID or settings.QONTO_OAUTH_CLIENT_SECRET:
        auth = oauth_from_settings()
    else:
        raise QontoConfigError(
            "Qonto n'est pas configuré : renseignez QONTO_LOGIN et QONTO_SECRET_KEY (clé d'API), ou "
            "QONTO_OAUTH_CLIENT_ID, QONTO_OAUTH_CLIENT_SECRET et QONTO_OAUTH_REFRESH_TOKEN (OAuth)"
        )
    return QontoClient(settings.QONTO_API_URL, auth, staging_token=staging, **kwargs)


def oauth_from_settings(**kwargs) -> OAuthAuth:
    return OAuthAuth(
        client_id=settings.QONTO_OAUTH_CLIENT_ID,
        client_secret=settings.QONTO_OAUTH_CLIENT_SECRET,
        token_url=settings.QONTO_OAUTH_TOKEN_URL,
        redirect_uri=settings.QONTO_OAUTH_REDIRECT_URI,
        initial_refresh_token=settings.QONTO_OAUTH_REFRESH_TOKEN,
        staging_token=settings.QONTO_STAGING_TOKEN,
        **kwargs,
    )
