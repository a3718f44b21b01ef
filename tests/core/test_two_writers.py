"""Two OS processes issue invoices at once, as the web server and the django-q2 worker do.

The embedded SQLite default must hold them (immediate transactions, WAL, a busy timeout): no "database is
locked", numbers without gap or duplicate. The same test runs on PostgreSQL in its pass. Each process opens
the database through the project's settings (``DATABASE_URL``), like ``manage.py`` would.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from invoicing.models import Invoice
from syaga.core.dates import today

ROOT = Path(__file__).resolve().parents[2]
PER_PROCESS = 100
PROCESSES = 2


def environment(database_url: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "ALLOWED_HOSTS", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    return dict(env, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="syaga.settings", Q_SYNC="false")


def worker(*args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.issue_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def issue_from_two_processes(env: dict, client_id: int, barrier: Path) -> tuple[list[str], list[str]]:
    barrier.mkdir()
    procs = [
        worker("issue", str(client_id), str(PER_PROCESS), str(barrier), f"p{n}", str(PROCESSES), env=env)
        for n in range(PROCESSES)
    ]
    numbers, errors = [], []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        numbers += report["numbers"]
        errors += report["errors"]
    return numbers, errors


def expected_numbers() -> list[str]:
    year = today().year
    return [f"F{year}{n:04d}" for n in range(1, PROCESSES * PER_PROCESS + 1)]


@pytest.mark.slow
def test_two_processes_issue_at_once_on_the_default_sqlite(tmp_path):
    # given: a file SQLite database built as `make run` builds it, with a seller and a client
    env = environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr
    seed = worker("seed", env=env)
    out, err = seed.communicate(timeout=120)
    assert seed.returncode == 0, err
    # when: two processes each issue 100 invoices at the same time
    numbers, errors = issue_from_two_processes(env, int(out.strip()), tmp_path / "barrier")
    # then: nobody was told "database is locked", and the 200 numbers follow each other
    assert errors == []
    assert sorted(numbers) == expected_numbers()


def database_url_of_the_test_database() -> str:
    s = connection.settings_dict
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    return f"postgres://{quote(s['USER'], safe='')}{password}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_processes_issue_at_once_on_postgresql(tmp_path):
    # given: the test database, committed, opened by two other processes
    assert connection.vendor == "postgresql"
    env = environment(database_url_of_the_test_database())
    seed = worker("seed", env=env)
    out, err = seed.communicate(timeout=120)
    assert seed.returncode == 0, err
    # when
    numbers, errors = issue_from_two_processes(env, int(out.strip()), tmp_path / "barrier")
    # then
    assert errors == []
    assert sorted(numbers) == expected_numbers()
    assert sorted(Invoice.objects.values_list("number", flat=True)) == expected_numbers()
