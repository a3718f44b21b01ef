"""A local Qonto Business API v2 server (pytest-httpserver) speaking ``shared/contracts/qonto-clockify.md`` A.

Reusable by any test::

    @pytest.fixture
    def qonto(httpserver, settings):
        stub = QontoStub(httpserver)
        stub.configure(settings)          # API key mode; stub.configure(settings, mode="oauth") for OAuth
        return stub

It serves ``/v2/organization`` (two accounts), ``/v2/transactions`` (paging by page/per_page, filters
``updated_at_from``/``status[]``/``sort_by``, and the undocumented default of hiding non-completed rows
when ``status[]`` is left out), ``/v2/transactions/{id}``, and ``/oauth2/token`` (short-lived access
tokens, rotating refresh tokens with a grace period). It checks the ``Authorization`` header for both
modes and ``X-Qonto-Staging-Token`` when ``staging_token`` is set, answers 429 with ``Retry-After`` on
demand (:meth:`throttle`), and JSON:API error bodies with a ``trace_id`` mirrored in ``X-Tyk-Trace-Id``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field

from werkzeug import Request, Response

MAIN_ACCOUNT = {
    "id": "018f71db-c635-78b5-b90a-ea05de98c2bf",
    "slug": "syaga-consulting-bankaccount-1",
    "iban": "FR7616798000010000005663951",
    "bic": "TRZOFR21XXX",
    "currency": "EUR",
    "balance": 15432.1,
    "balance_cents": 1543210,
    "authorized_balance": 15432.1,
    "authorized_balance_cents": 1543210,
    "name": "Compte principal",
    "updated_at": "2026-03-02T09:12:04.000Z",
    "status": "active",
    "main": True,
    "is_external_account": False,
    "account_number": "",
}
SAVINGS_ACCOUNT = {
    "id": "018f71db-d2aa-7c11-8e0e-3b9d4c1f7a20",
    "slug": "syaga-consulting-bankaccount-2",
    "iban": "FR7616798000010000005663952",
    "bic": "TRZOFR21XXX",
    "currency": "EUR",
    "balance": 2500.0,
    "balance_cents": 250000,
    "authorized_balance": 2500.0,
    "authorized_balance_cents": 250000,
    "name": "Réserve TVA",
    "updated_at": "2026-03-01T08:00:00.000Z",
    "status": "active",
    "main": False,
    "is_external_account": False,
    "account_number": "",
}

STATUSES = ("pending", "declined", "completed")
_counter = itertools.count(1)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def make_transaction(**overrides) -> dict:
    """An incoming SEPA payment shaped like the contract's example; override any field."""
    n = next(_counter)
    updated = overrides.pop("updated", None) or dt.datetime(2026, 3, 2, 9, 12, 4, tzinfo=dt.UTC)
    cents = overrides.pop("cents", 120000)
    tx = {
        "id": str(uuid.uuid4()),
        "transaction_id": f"syaga-consulting-1234-transaction-{n}",
        "bank_account_id": MAIN_ACCOUNT["id"],
        "amount": cents / 100,
        "amount_cents": cents,
        "local_amount": cents / 100,
        "local_amount_cents": cents,
        "settled_balance": 15432.1,
        "settled_balance_cents": 1543210,
        "side": "credit",
        "operation_type": "income",
        "currency": "EUR",
        "local_currency": "EUR",
        "label": "CLIENT SAS",
        "clean_counterparty_name": "Client SAS",
        "reference": f"FACTURE F-2026-{n:03d}",
        "note": None,
        "emitted_at": iso(updated - dt.timedelta(seconds=4)),
        "settled_at": iso(updated - dt.timedelta(seconds=1)),
        "created_at": iso(updated),
        "updated_at": iso(updated),
        "status": "completed",
        "vat_amount": None,
        "vat_amount_cents": None,
        "vat_rate": None,
        "initiator_id": None,
        "label_ids": [],
        "attachment_ids": [],
        "attachment_lost": False,
        "attachment_required": False,
        "card_last_digits": None,
        "category": "other_income",
        "cashflow_category": None,
        "cashflow_subcategory": None,
        "subject_type": "Income",
        "is_external_transaction": False,
        "logo": None,
        "income": {
            "counterparty_account_number": "FR7630006000011234567890189",
            "counterparty_account_number_format": "IBAN",
            "counterparty_bank_identifier": "AGRIFRPPXXX",
            "counterparty_bank_identifier_format": "SWIFT_BIC",
        },
    }
    tx.update(overrides)
    return tx


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``X-Qonto-Signature`` value for a body, as Qonto computes it."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_event(
    transaction: dict, *, event: str = "created", variant: str = "numbers", event_id: str | None = None
) -> dict:
    """A ``v1/transactions`` delivery. ``variant="numbers"``: amounts as numbers and ``bank_account_id``;
    ``variant="strings"``: the other doc rendering, amounts as strings and a ``bank_account`` object."""
    data = {k: v for k, v in transaction.items() if not k.endswith("_cents")}
    data["event"] = event
    if variant == "strings":
        for key in ("amount", "local_amount", "settled_balance"):
            if data.get(key) is not None:
                data[key] = f"{data[key]:.2f}"
        account_id = data.pop("bank_account_id")
        data["bank_account"] = {
            "id": account_id,
            "iban": MAIN_ACCOUNT["iban"],
            "bic": MAIN_ACCOUNT["bic"],
            "name": MAIN_ACCOUNT["name"],
        }
    return {
        "id": event_id or str(uuid.uuid4()),
        "subscription_id": "5f1f0f34-0000-4000-8000-000000000001",
        "organization_id": "cb47875a-9b12-416e-aa9a-265b9dfaeee7",
        "membership_id": "5f1f0f34-0000-4000-8000-000000000002",
        "type": "v1/transactions",
        "created_at": "2026-03-02T09:12:05Z",
        "data": data,
    }


@dataclass
class Recorded:
    method: str
    path: str
    args: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.args.get(name)
        return values[0] if values else None


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


class QontoStub:
    def __init__(
        self,
        httpserver,
        *,
        login: str = "syaga-consulting-1234",
        secret_key: str = "62885d39f3a0ddedd3d3ee0432a43ccr",
        client_id: str = "syaga-oauth-client",
        client_secret: str = "oauth-client-secret",
        staging_token: str = "",
        access_token_lifetime: int = 3600,
        refresh_grace_seconds: float = 60,
        omit_next_page_on_last: bool = False,
    ):
        self.server = httpserver
        self.login = login
        self.secret_key = secret_key
        self.client_id = client_id
        self.client_secret = client_secret
        self.staging_token = staging_token
        self.access_token_lifetime = access_token_lifetime
        self.refresh_grace_seconds = refresh_grace_seconds
        self.omit_next_page_on_last = omit_next_page_on_last
        self.clock = time.time
        self.accounts: list[dict] = [copy.deepcopy(MAIN_ACCOUNT), copy.deepcopy(SAVINGS_ACCOUNT)]
        self.transactions: list[dict] = []
        self.requests: list[Recorded] = []
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self.refresh_tokens: dict[str, float | None] = {}  # token -> first use (epoch) or None
        self.codes: set[str] = set()
        self.token_grants: list[str] = []  # grant_type of every successful token call
        self._throttle = 0
        self._retry_after: str | None = "1"
        self._failures: list[tuple[str, int, object]] = []
        httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    # -- setup helpers --

    @property
    def base_url(self) -> str:
        return self.server.url_for("/v2")

    @property
    def token_url(self) -> str:
        return self.server.url_for("/oauth2/token")

    def configure(self, settings, *, mode: str = "api_key") -> None:
        """Point the Django settings at this stub, in ``api_key`` or ``oauth`` mode."""
        settings.QONTO_API_URL = self.base_url
        settings.QONTO_STAGING_TOKEN = self.staging_token
        settings.QONTO_OAUTH_TOKEN_URL = self.token_url
        settings.QONTO_OAUTH_REDIRECT_URI = "http://testserver/banking/qonto/oauth/callback/"
        if mode == "api_key":
            settings.QONTO_LOGIN, settings.QONTO_SECRET_KEY = self.login, self.secret_key
            settings.QONTO_OAUTH_CLIENT_ID = settings.QONTO_OAUTH_CLIENT_SECRET = ""
            settings.QONTO_OAUTH_REFRESH_TOKEN = ""
        else:
            settings.QONTO_LOGIN = settings.QONTO_SECRET_KEY = ""
            settings.QONTO_OAUTH_CLIENT_ID = self.client_id
            settings.QONTO_OAUTH_CLIENT_SECRET = self.client_secret
            settings.QONTO_OAUTH_REFRESH_TOKEN = self.issue_refresh_token()

    def add(self, **overrides) -> dict:
        tx = make_transaction(**overrides)
        self.transactions.append(tx)
        return tx

    def update(self, qonto_id: str, *, updated: dt.datetime, **fields) -> dict:
        tx = next(t for t in self.transactions if t["id"] == qonto_id)
        tx.update(fields, updated_at=iso(updated))
        return tx

    def issue_refresh_token(self) -> str:
        token = f"ory_rt_{secrets.token_urlsafe(16)}"
        self.refresh_tokens[token] = None
        return token

    def issue_code(self) -> str:
        code = f"ory_ac_{secrets.token_urlsafe(16)}"
        self.codes.add(code)
        return code

    def revoke_access_tokens(self) -> None:
        self.access_tokens.clear()

    def throttle(self, times: int = 1, *, retry_after: str | None = "1") -> None:
        """The next ``times`` API calls answer 429 (with ``Retry-After`` unless it is None)."""
        self._throttle, self._retry_after = times, retry_after

    def fail_next(self, path_pattern: str, status: int, body: object, *, page: int | None = None) -> None:
        """The next request whose path matches (and, if given, asks for ``page``) gets ``status``/``body``."""
        self._failures.append((path_pattern, status, {"body": body, "page": page}))

    def transaction_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v2/transactions"]

    # -- the server --

    def _json(self, body, status: int = 200, headers: dict | None = None) -> Response:
        return Response(
            json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
        )

    def _error(self, status: int, code: str, detail: str, **extra) -> Response:
        trace_id = uuid.uuid4().hex
        return self._json(
            {"errors": [{"code": code, "detail": detail, **extra}], "trace_id": trace_id},
            status,
            {"X-Tyk-Trace-Id": trace_id},
        )

    def _handle(self, request: Request) -> Response:
        recorded = Recorded(
            request.method,
            request.path,
            request.args.to_dict(flat=False),
            dict(request.headers),
            request.form.to_dict() if request.method == "POST" else {},
        )
        self.requests.append(recorded)
        if request.path == "/oauth2/token":
            return self._token(request)
        if self.staging_token and request.headers.get("X-Qonto-Staging-Token") != self.staging_token:
            return self._error(401, "unauthorized", "missing or invalid X-Qonto-Staging-Token")
        if not self._authorized(request.headers.get("Authorization", "")):
            return self._error(401, "unauthorized", "Invalid or missing credentials")
        if self._throttle > 0:
            self._throttle -= 1
            headers = {"Retry-After": self._retry_after} if self._retry_after is not None else {}
            return self._json(
                {
                    "errors": [{"code": "too_many_requests", "detail": "Rate limit exceeded"}],
                    "trace_id": uuid.uuid4().hex,
                },
                429,
                headers,
            )
        for index, (pattern, status, spec) in enumerate(self._failures):
            page = int(request.args.get("page", 1))
            if re.fullmatch(pattern, request.path) and spec["page"] in (None, page):
                del self._failures[index]
                return self._json(spec["body"], status)
        if request.method != "GET":
            return self._error(405, "method_not_allowed", "only GET is served by this stub")
        if request.path == "/v2/organization":
            return self._json(
                {
                    "organization": {
                        "id": "cb47875a-9b12-416e-aa9a-265b9dfaeee7",
                        "slug": "syaga-consulting-1234",
                        "name": "SYAGA Consulting",
                        "legal_name": "SYAGA CONSULTING",
                        "legal_country": "FR",
                        "bank_accounts": copy.deepcopy(self.accounts),
                    }
                }
            )
        if request.path == "/v2/transactions":
            return self._list(request)
        match = re.fullmatch(r"/v2/transactions/([^/]+)", request.path)
        if match:
            tx = next((t for t in self.transactions if t["id"] == match[1]), None)
            if tx is None:
                return self._error(404, "not_found", "Transaction not found")
            return self._json({"transaction": copy.deepcopy(tx)})
        return self._error(404, "not_found", f"no route {request.path}")

    def _authorized(self, header: str) -> bool:
        if header == f"{self.login}:{self.secret_key}":
            return True
        if header.startswith("Bearer "):
            expiry = self.access_tokens.get(header[len("Bearer ") :])
            return expiry is not None and self.clock() < expiry
        return False

    def _list(self, request: Request) -> Response:
        args = request.args
        account_id = args.get("bank_account_id")
        iban = args.get("iban")
        if not account_id and not iban:
            return self._error(
                422,
                "required",
                "bank_account_id or iban is required",
                source={"parameter": "bank_account_id"},
            )
        account = next(
            (a for a in self.accounts if a["id"] == account_id or (not account_id and a["iban"] == iban)),
            None,
        )
        if account is None:
            return self._error(404, "not_found", "Bank account not found")
        statuses = args.getlist("status[]")
        for status in statuses:
            if status not in STATUSES:
                return self._error(
                    422,
                    "not_in_list",
                    f"status must be one of: {', '.join(STATUSES)}",
                    source={"parameter": "status"},
                )
        # Undocumented; live clients report only completed rows when status[] is left out.
        wanted = set(statuses or ["completed"])
        try:
            page = int(args.get("page", 1))
            per_page = int(args.get("per_page", 100))
        except ValueError:
            return self._error(422, "invalid", "page and per_page must be integers")
        if page < 1 or not 1 <= per_page <= 100:
            return self._error(
                422, "invalid", "per_page must be between 1 and 100", source={"parameter": "per_page"}
            )
        rows = [
            t for t in self.transactions if t["bank_account_id"] == account["id"] and t["status"] in wanted
        ]
        if args.get("updated_at_from"):
            since = _parse_iso(args["updated_at_from"])
            rows = [t for t in rows if _parse_iso(t["updated_at"]) >= since]
        if args.get("updated_at_to"):
            until = _parse_iso(args["updated_at_to"])
            rows = [t for t in rows if _parse_iso(t["updated_at"]) <= until]
        sort_field, _, direction = (args.get("sort_by") or "settled_at:desc").partition(":")
        rows.sort(key=lambda t: (t.get(sort_field) or "", t["id"]), reverse=direction != "asc")
        total_pages = max(1, -(-len(rows) // per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        meta = {
            "current_page": page,
            "next_page": page + 1 if page < total_pages else None,
            "prev_page": page - 1 if page > 1 else None,
            "total_pages": total_pages,
            "total_count": len(rows),
            "per_page": per_page,
        }
        if self.omit_next_page_on_last and meta["next_page"] is None:
            del meta["next_page"]
        return self._json({"transactions": copy.deepcopy(chunk), "meta": meta})

    def _token(self, request: Request) -> Response:
        if self.staging_token and request.headers.get("X-Qonto-Staging-Token") != self.staging_token:
            # What the sandbox does without the staging header: an HTML page, not JSON.
            return Response(
                "<!doctype html><html><body>Access denied</body></html>", status=200, content_type="text/html"
            )
        form = request.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self._json({"error": "invalid_client", "error_description": "bad client credentials"}, 401)
        grant = form.get("grant_type")
        now = self.clock()
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens:
                return self._json(
                    {"error": "invalid_grant", "error_description": "unknown refresh token"}, 400
                )
            first_use = self.refresh_tokens[token]
            if first_use is not None and now - first_use > self.refresh_grace_seconds:
                return self._json(
                    {"error": "invalid_grant", "error_description": "refresh token was used"}, 400
                )
            if first_use is None:
                self.refresh_tokens[token] = now
        elif grant == "authorization_code":
            code = form.get("code", "")
            if code not in self.codes or not form.get("redirect_uri"):
                return self._json({"error": "invalid_grant", "error_description": "bad code"}, 400)
            self.codes.discard(code)
        else:
            return self._json({"error": "unsupported_grant_type"}, 400)
        access = f"ory_at_{secrets.token_urlsafe(16)}"
        self.access_tokens[access] = now + self.access_token_lifetime
        self.token_grants.append(grant)
        return self._json(
            {
                "access_token": access,
                "refresh_token": self.issue_refresh_token(),
                "expires_in": self.access_token_lifetime,
                "token_type": "bearer",
                "scope": "offline_access organization.read",
            }
        )
