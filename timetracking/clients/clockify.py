"""Clockify REST API v1 client: workspace users, their time entries, the running timer.

Contract: ``shared/contracts/qonto-clockify.md`` part B. Authentication is one ``X-Api-Key`` header (never a
Bearer token). Lists are bare JSON arrays paged with ``page`` (1-based) and ``page-size``; the response
header ``Last-Page: true`` says the last page was read. 429 is retried with back-off (``Retry-After`` when
the server sends it, else exponential); 401 is not retried and says which setting to check. Core-API
durations are ISO 8601 (``PT1H30M``) and instants UTC with ``Z``; a running entry has no end.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterator

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from syaga.core.http import RETRYABLE_STATUSES, backoff_seconds, wait_before_retry

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 200
# Past this many pages something is wrong (a server that never says Last-Page: true): stop rather than loop.
MAX_PAGES = 10_000


class ClockifyError(Exception):
    """Clockify answered an error (or not at all)."""

    def __init__(
        self, message: str, *, status: int | None = None, code: int | str | None = None, url: str = ""
    ):
        self.http_status = status
        self.code = code
        self.url = url
        super().__init__(message)


class ClockifyAuthError(ClockifyError):
    """401/403: the API key is refused (or lacks the rights)."""


class ClockifyRateLimitError(ClockifyError):
    """Still 429 after the bounded retries."""


class ClockifyConfigError(ClockifyError):
    """No API key in the settings: there is nothing to sync with."""


# --- values ------------------------------------------------------------------------------------------------

_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.\d+)?S)?)?")


def duration_seconds(value) -> int | None:
    """Seconds of an ISO 8601 duration (``PT2H54M``, ``PT45S``, ``P1DT2H``); an int is taken as seconds (the
    reports API); None for a running entry's null."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValueError(f"durée Clockify « {value} » : ce n'est pas une durée")
    if isinstance(value, int):
        return value
    m = _ISO_DURATION.fullmatch(str(value).strip())
    if not m or str(value).strip() in ("P", "PT"):
        raise ValueError(f"durée Clockify « {value} » : ce n'est pas une durée ISO 8601 (PT1H30M)")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def instant(value) -> dt.datetime | None:
    """An aware datetime from ``2026-03-02T09:00:00Z`` (or an offset); None for null."""
    if value in (None, ""):
        return None
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"instant Clockify « {value} » : ce n'est pas une date-heure ISO 8601")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def instant_to_api(value: dt.datetime) -> str:
    """``yyyy-MM-ddThh:mm:ssZ`` as the time-entries filter wants it."""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the client --------------------------------------------------------------------------------------------


class ClockifyClient:
    """requests-based client: ``X-Api-Key``, timeouts, paging until ``Last-Page: true``, 429 back-off."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        workspace_id: str = "",
        *,
        timeout: tuple[float, float] = (5, 30),
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        if not api_key:
            raise ClockifyConfigError(
                "Clockify n'est pas configuré : CLOCKIFY_API_KEY est vide "
                "(Clockify › Paramètres du profil › API)"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._workspace_id = workspace_id
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "syaga-billing"})

    # -- transport --

    def _wait_for(self, response: requests.Response, attempt: int) -> float:
        return wait_before_retry(response.headers, attempt, base=self.backoff, cap=self.max_backoff)

    def request(
        self, method: str, path: str, *, params=None
    ) -> tuple[object, requests.structures.CaseInsensitiveDict]:
        """(decoded JSON body, response headers) of one call, after the retries 429 and 5xx deserve."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, params=params, headers={"X-Api-Key": self.api_key}, timeout=self.timeout
                )
            except requests.RequestException as exc:
                if attempt < self.max_retries and method == "GET":
                    wait = backoff_seconds(attempt, base=self.backoff, cap=self.max_backoff)
                    log.warning(
                        "Clockify %s %s a échoué (%s), nouvel essai dans %.1f s", method, path, exc, wait
                    )
                    self.sleep(wait)
                    attempt += 1
                    continue
                raise ClockifyError(f"Clockify injoignable ({method} {path}) : {exc}", url=url) from exc
            status = response.status_code
            if status in RETRYABLE_STATUSES:
                if attempt < self.max_retries:
                    wait = self._wait_for(response, attempt)
                    log.warning(
                        "Clockify %s %s a répondu %s, nouvel essai dans %.1f s", method, path, status, wait
                    )
                    self.sleep(wait)
                    attempt += 1
                    continue
                if status == 429:
                    raise ClockifyRateLimitError(
                        f"Clockify répond toujours 429 Too Many Requests (trop de requêtes) à {method} "
                        f"{path} après {self.max_retries} nouveaux essais : réessayez plus tard",
                        status=429,
                        url=url,
                    )
            if status >= 400:
                raise self._error(method, path, response)
            try:
                return response.json(), response.headers
            except ValueError as exc:
                raise ClockifyError(
                    f"Clockify a répondu {status} à {method} {path}, avec un contenu qui n'est pas du JSON",
                    status=status,
                    url=url,
                ) from exc

    def _error(self, method: str, path: str, response: requests.Response) -> ClockifyError:
        try:
            body = response.json()
        except ValueError:
            body = None
        message = code = None
        if isinstance(body, dict):
            message, code = body.get("message"), body.get("code")
        status = response.status_code
        text = f"Clockify a répondu {status} à {method} {path}"
        # Clockify's own words, quoted as it wrote them.
        details = [f"« {message} »"] if message else []
        if code is not None:
            details.append(f"code {code}")
        if details:
            text += f" ({', '.join(details)})"
        if status in (401, 403):
            hint = (
                "la clé d'API est refusée : vérifiez CLOCKIFY_API_KEY (un espace de travail sur un "
                "sous-domaine demande une clé créée pour lui)"
                if status == 401
                else "l'utilisateur de la clé d'API n'a pas les droits pour cet appel (la clé d'un "
                "administrateur de l'espace de travail lit le temps de tout le monde)"
            )
            return ClockifyAuthError(f"{text} ; {hint}", status=status, code=code, url=response.url)
        return ClockifyError(text, status=status, code=code, url=response.url)

    def get(self, path: str, params=None):
        return self.request("GET", path, params=params)[0]

    def pages(
        self, path: str, params: dict | None = None, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[list]:
        """Every page of a list endpoint, until the ``Last-Page: true`` header (or, from an endpoint that
        does not send it, a short page)."""
        page = 1
        while page <= MAX_PAGES:
            query = {**(params or {}), "page": str(page), "page-size": str(page_size)}
            body, headers = self.request("GET", path, params=query)
            if not isinstance(body, list):
                raise ClockifyError(f"Clockify GET {path}, page {page} : la réponse n'est pas une liste JSON")
            yield body
            last = headers.get("Last-Page")
            if last is not None:
                if last.strip().lower() == "true":
                    return
            elif len(body) < page_size:
                return
            if not body:
                return
            page += 1
        raise ClockifyError(
            f"Clockify GET {path} : plus de {MAX_PAGES} pages sans jamais « Last-Page: true »"
        )

    # -- endpoints --

    def current_user(self) -> dict:
        return self.get("user")

    @property
    def workspace_id(self) -> str:
        """CLOCKIFY_WORKSPACE_ID, else the key owner's active workspace."""
        if not self._workspace_id:
            user = self.current_user()
            self._workspace_id = str(user.get("activeWorkspace") or user.get("defaultWorkspace") or "")
            if not self._workspace_id:
                raise ClockifyError(
                    "Clockify : l'utilisateur de la clé n'a pas d'espace de travail actif ; "
                    "indiquez CLOCKIFY_WORKSPACE_ID"
                )
        return self._workspace_id

    def workspace_users(self) -> list[dict]:
        """Every user of the workspace (``id``, ``email``, ``name``, ``status``)."""
        users = []
        for page in self.pages(f"workspaces/{self.workspace_id}/users"):
            users.extend(page)
        return users

    def iter_time_entries(
        self,
        user_id: str,
        *,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        page_size=DEFAULT_PAGE_SIZE,
    ) -> Iterator[dict]:
        """One user's entries (hydrated: project, task, tags and client names come with them)."""
        params = {"hydrated": "true"}
        if start is not None:
            params["start"] = instant_to_api(start)
        if end is not None:
            params["end"] = instant_to_api(end)
        for page in self.pages(
            f"workspaces/{self.workspace_id}/user/{user_id}/time-entries", params, page_size=page_size
        ):
            yield from page

    def running_entry(self, user_id: str) -> dict | None:
        """The user's running timer (``in-progress=true``), or None."""
        body = self.get(
            f"workspaces/{self.workspace_id}/user/{user_id}/time-entries",
            params={"in-progress": "true", "hydrated": "true"},
        )
        if isinstance(body, list):
            return body[0] if body else None
        return body or None

    def time_entry(self, entry_id: str) -> dict | None:
        """One entry by id (hydrated); None when Clockify no longer has it (deleted)."""
        try:
            return self.get(
                f"workspaces/{self.workspace_id}/time-entries/{entry_id}", params={"hydrated": "true"}
            )
        except ClockifyError as exc:
            if exc.http_status in (400, 404):
                return None
            raise


def client_from_settings(**kwargs) -> ClockifyClient:
    """The client the settings describe; :class:`ClockifyConfigError` without an API key."""
    return ClockifyClient(
        settings.CLOCKIFY_API_URL, settings.CLOCKIFY_API_KEY, settings.CLOCKIFY_WORKSPACE_ID, **kwargs
    )
