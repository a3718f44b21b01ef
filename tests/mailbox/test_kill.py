"""A worker killed (SIGKILL) in the middle of the SMTP exchange: the invoice is never e-mailed twice.

Real processes on a file database: the first worker hands the message to a real SMTP server, which holds
its answer until the worker is dead; a second worker then runs after the first one's lease expired.
"""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.mailbox.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("TEST_DB_LABEL") == "postgres",
        reason="runs once, in the SQLite pass (its own database file)",
    ),
]


class HoldingHandler:
    def __init__(self):
        self.envelopes = []
        self.received = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.received.set()
        while not self.release.is_set():  # the worker is killed while it waits for this answer
            await asyncio.sleep(0.05)
        return "250 2.0.0 Ok"


def environment(database: Path, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALLOWED_HOSTS", "DEBUG")}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        DJANGO_SETTINGS_MODULE="syaga.settings",
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        DEFAULT_FROM_EMAIL="facturation@syaga.fr",
        INVOICE_PDF_DIR=str(database.parent / "pdf"),
        MAIL_SEND_LEASE_SECONDS="1",
        Q_SYNC="false",
    )
    return env


def run(env, *args, timeout=300):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_a_worker_killed_during_smtp_never_sends_the_invoice_twice(tmp_path):
    handler = HoldingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        database = tmp_path / "db.sqlite3"
        env = environment(database, port)
        migrate = run(env, "manage.py", "migrate", "--noinput")
        assert migrate.returncode == 0, migrate.stderr
        seed = run(env, "-m", "tests.mailbox.send_worker", "seed")
        assert seed.returncode == 0, seed.stderr
        # when: the first worker is killed while the server holds its answer
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.mailbox.send_worker", "send"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert handler.received.wait(120), "the worker never reached the SMTP server"
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
        handler.release.set()
        time.sleep(1.5)  # its lease (1 s) expires
        # and a second worker runs, twice
        for _ in range(2):
            again = run(env, "-m", "tests.mailbox.send_worker", "send")
            assert again.returncode == 0, again.stderr
    finally:
        controller.stop()
    # then: the server saw the message once; the row waits for a person instead of being sent again
    assert len(handler.envelopes) == 1
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT state, smtp_started_at IS NOT NULL FROM mailbox_outboundmessage").fetchall()
        status = db.execute("SELECT status FROM invoicing_invoice").fetchone()[0]
    assert rows == [("uncertain", 1)]
    assert status == "issued"  # not marked sent on an unknown outcome
