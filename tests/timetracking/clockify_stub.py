"""A local Clockify REST API v1 server (pytest-httpserver) speaking ``shared/contracts/qonto-clockify.md`` B.

Reusable by any test::

    @pytest.fixture
    def clockify(httpserver, settings):
        stub = ClockifyStub(httpserver)
        stub.configure(settings)
        return stub

It serves ``/api/v1/user``, ``/workspaces/{ws}/users`` and ``/workspaces/{ws}/user/{uid}/time-entries``
(bare JSON arrays paged with ``page``/``page-size``, a ``Last-Page: true|false`` header, newest first, the
``start``/``end`` filters read as wall-clock time in the user's zone as the live server does,
``in-progress=true`` for the running timer, ``hydrated=true`` adding ``project``/``task``/``tags``), and
``/workspaces/{ws}/time-entries/{id}``. Authentication is exactly one ``X-Api-Key`` (401 bodies with codes
1000 and 4003, a Bearer header counting as no token). :meth:`throttle` answers 429 (``Retry-After`` optional)
to the next calls. Entries carry ISO 8601 durations, UTC ``Z`` instants, rates in cents, 24-hex ids.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from werkzeug import Request, Response

WORKSPACE_ID = "79d95471c93cff26089752cc"
API_KEY = "YzQ3ZTk4NzYtZjQ1Ni00MmQ5LWI4ZTMtYjA0NjYxN2Q1ZDAy"
_ids = itertools.count(1)


def object_id() -> str:
    return f"{next(_ids):024x}"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    if secs or text == "PT":
        text += f"{secs}S"
    return text


@dataclass
class Recorded:
    method: str
    path: str
    args: dict[str, list[str]]
    headers: dict[str, str]

    def arg(self, name: str) -> str | None:
        values = self.args.get(name)
        return values[0] if values else None


class ClockifyStub:
    def __init__(self, httpserver, *, api_key: str = API_KEY, workspace_id: str = WORKSPACE_ID):
        self.server = httpserver
        self.api_key = api_key
        self.workspace_id = workspace_id
        self.time_zone = "Europe/Paris"  # the users' profile zone: the list filters read instants in it
        self.send_last_page = True
        self.users: list[dict] = []
        self.projects: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.tags: dict[str, dict] = {}
        self.entries: list[dict] = []
        self.requests: list[Recorded] = []
        self._throttle = 0
        self._retry_after: str | None = "1"
        httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(self._handle)

    # -- setup --

    @property
    def base_url(self) -> str:
        return self.server.url_for("/api/v1")

    def configure(self, settings, *, workspace: bool = True) -> None:
        settings.CLOCKIFY_API_URL = self.base_url
        settings.CLOCKIFY_API_KEY = self.api_key
        settings.CLOCKIFY_WORKSPACE_ID = self.workspace_id if workspace else ""

    def add_user(self, name: str, email: str) -> dict:
        user = {
            "id": object_id(),
            "email": email,
            "name": name,
            "status": "ACTIVE",
            "activeWorkspace": self.workspace_id,
            "defaultWorkspace": self.workspace_id,
            "settings": {"timeZone": self.time_zone, "dateFormat": "DD/MM/YYYY", "timeFormat": "HOUR24"},
        }
        self.users.append(user)
        return user

    def project(self, name: str, client: str | None = None) -> dict:
        for project in self.projects.values():
            if project["name"] == name and project["clientName"] == (client or ""):
                return project
        project = {
            "id": object_id(),
            "name": name,
            "clientId": object_id() if client else "",
            "clientName": client or "",
            "color": "#03A9F4",
            "billable": True,
            "workspaceId": self.workspace_id,
        }
        self.projects[project["id"]] = project
        return project

    def _task(self, name: str, project_id: str) -> dict:
        for task in self.tasks.values():
            if task["name"] == name and task["projectId"] == project_id:
                return task
        task = {"id": object_id(), "name": name, "projectId": project_id, "status": "ACTIVE"}
        self.tasks[task["id"]] = task
        return task

    def _tag(self, name: str) -> dict:
        for tag in self.tags.values():
            if tag["name"] == name:
                return tag
        tag = {"id": object_id(), "name": name, "workspaceId": self.workspace_id, "archived": False}
        self.tags[tag["id"]] = tag
        return tag

    def add_entry(
        self,
        user: dict,
        *,
        start: dt.datetime,
        end: dt.datetime | None = None,
        project: str | None = None,
        client: str | None = None,
        task: str | None = None,
        tags=(),
        description: str = "",
        billable: bool = True,
        entry_type: str = "REGULAR",
    ) -> dict:
        """A ``TimeEntryWithRatesDtoV1``; ``end=None`` is a running timer (no end, no duration)."""
        project_obj = self.project(project, client) if project else None
        task_obj = self._task(task, project_obj["id"]) if task and project_obj else None
        entry = {
            "id": object_id(),
            "description": description,
            "tagIds": [self._tag(t)["id"] for t in tags],
            "userId": user["id"],
            "billable": billable,
            "taskId": task_obj["id"] if task_obj else None,
            "projectId": project_obj["id"] if project_obj else None,
            "workspaceId": self.workspace_id,
            "timeInterval": {
                "start": iso(start),
                "end": iso(end) if end else None,
                "duration": iso_duration(int((end - start).total_seconds())) if end else None,
            },
            "customFieldValues": [],
            "type": entry_type,
            "kioskId": None,
            "hourlyRate": {"amount": 11000, "currency": "EUR"},
            "costRate": {"amount": 0, "currency": "EUR"},
            "isLocked": False,
        }
        self.entries.append(entry)
        return entry

    def edit(self, entry: dict, **fields) -> None:
        if "description" in fields:
            entry["description"] = fields.pop("description")
        if "end" in fields:
            end = fields.pop("end")
            start = dt.datetime.fromisoformat(entry["timeInterval"]["start"].replace("Z", "+00:00"))
            entry["timeInterval"]["end"] = iso(end) if end else None
            entry["timeInterval"]["duration"] = (
                iso_duration(int((end - start).total_seconds())) if end else None
            )
        assert not fields, fields

    def delete(self, entry: dict) -> None:
        self.entries.remove(entry)

    def throttle(self, times: int = 1, *, retry_after: str | None = "1") -> None:
        """The next ``times`` calls answer 429 Too Many Requests (with ``Retry-After`` unless None)."""
        self._throttle, self._retry_after = times, retry_after

    def entry_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/time-entries")]

    # -- the server --

    def _json(self, body, status: int = 200, headers: dict | None = None) -> Response:
        return Response(
            json.dumps(body), status=status, headers=headers or {}, content_type="application/json"
        )

    def _handle(self, request: Request) -> Response:
        self.requests.append(
            Recorded(request.method, request.path, request.args.to_dict(flat=False), dict(request.headers))
        )
        key, addon = request.headers.get("X-Api-Key"), request.headers.get("X-Addon-Token")
        if (key is None) == (addon is None):
            return self._json({"message": "Multiple or none auth tokens present", "code": 1000}, 401)
        if addon is not None:
            return self._json({"message": "Token is not valid", "code": 4017}, 401)
        if not secrets.compare_digest(key, self.api_key):
            return self._json({"message": "Api key does not exist", "code": 4003}, 401)
        if self._throttle > 0:
            self._throttle -= 1
            headers = {"Retry-After": self._retry_after} if self._retry_after is not None else {}
            return self._json({"message": "Too Many Requests", "code": 429}, 429, headers)
        if request.method != "GET":
            return self._json({"message": "Method not supported", "code": 3000}, 405)
        path = request.path.removeprefix("/api/v1")
        if path == "/user":
            return self._json(copy.deepcopy(self.users[0]) if self.users else {})
        ws = re.escape(self.workspace_id)
        if re.fullmatch(rf"/workspaces/{ws}/users", path):
            return self._page(request, copy.deepcopy(self.users))
        m = re.fullmatch(rf"/workspaces/{ws}/user/([0-9a-f]+)/time-entries", path)
        if m:
            return self._entries(request, m[1])
        m = re.fullmatch(rf"/workspaces/{ws}/time-entries/([0-9a-f]+)", path)
        if m:
            entry = next((e for e in self.entries if e["id"] == m[1]), None)
            if entry is None:
                return self._json({"message": "Time entry not found", "code": 501}, 404)
            return self._json(self._shape(entry, request.args.get("hydrated") == "true"))
        if path.startswith("/workspaces/"):
            return self._json({"message": "Access denied to workspace", "code": 403}, 403)
        return self._json({"message": f"no route {request.path}", "code": 3000}, 404)

    def _page(self, request: Request, rows: list) -> Response:
        try:
            page = int(request.args.get("page", 1))
            size = int(request.args.get("page-size", 50))
        except ValueError:
            return self._json({"message": "page and page-size must be integers", "code": 501}, 400)
        if page < 1 or size < 1:
            return self._json({"message": "page and page-size start at 1", "code": 501}, 400)
        chunk = rows[(page - 1) * size : page * size]
        headers = {}
        if self.send_last_page:
            headers["Last-Page"] = "true" if page * size >= len(rows) else "false"
        return self._json(chunk, headers=headers)

    def _wall_clock(self, value: str) -> dt.datetime:
        """The live quirk: the filter's instant is re-read as wall-clock time in the user's zone."""
        naive = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        return naive.replace(tzinfo=ZoneInfo(self.time_zone))

    def _entries(self, request: Request, user_id: str) -> Response:
        args = request.args
        rows = [e for e in self.entries if e["userId"] == user_id]

        def started(e):
            return dt.datetime.fromisoformat(e["timeInterval"]["start"].replace("Z", "+00:00"))

        if args.get("in-progress") == "true":
            rows = [e for e in rows if e["timeInterval"]["end"] is None]
        if args.get("start"):
            since = self._wall_clock(args["start"])
            rows = [e for e in rows if started(e) >= since]
        if args.get("end"):
            until = self._wall_clock(args["end"])
            rows = [e for e in rows if started(e) <= until]
        rows.sort(key=lambda e: (e["timeInterval"]["start"], e["id"]), reverse=True)
        hydrated = args.get("hydrated") == "true"
        return self._page(request, [self._shape(e, hydrated) for e in rows])

    def _shape(self, entry: dict, hydrated: bool) -> dict:
        data = copy.deepcopy(entry)
        if hydrated:
            data["project"] = (
                copy.deepcopy(self.projects.get(entry["projectId"])) if entry["projectId"] else None
            )
            data["task"] = copy.deepcopy(self.tasks.get(entry["taskId"])) if entry["taskId"] else None
            data["tags"] = [copy.deepcopy(self.tags[t]) for t in entry["tagIds"]]
            user = next(u for u in self.users if u["id"] == entry["userId"])
            data["user"] = {"id": user["id"], "name": user["name"], "email": user["email"]}
        return data
