"""`manage.py serve`: what `make run` runs after the migrations. The web server and the django-q2 cluster,
started and stopped together, cleanly.

- A busy port is refused before anything starts (no worker left behind).
- The first-start chores run (demo on an empty development database, admin user, schedules, overdue alerts);
  the sign-in details are printed last, once the server answers.
- Both children run in their own process group, so the terminal's Ctrl-C reaches only this command, which
  stops them in order: the cluster gets TERM on its main process (django-q2 stops its workers after their
  task), the web server SIGINT. Whatever still runs after a grace period is killed. The same happens on
  TERM or HUP, when a child dies, and when ``make`` itself is killed (this command's parent changes).
"""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from syaga.ops.management.commands.bootstrap import report, sign_in_text
from syaga.ops.services import first_start

GRACE_SECONDS = 20
READY_SECONDS = 90


def port_busy(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError:
            return True
    return False


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=1):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = (
        "Démarre ensemble le serveur web et le cluster django-q2 (ce que lance `make run`) ; Ctrl-C arrête "
        "les deux."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="l'adresse d'écoute (par défaut : 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="le port (par défaut : 8000)")
        parser.add_argument("--no-worker", action="store_true", help="le serveur web seul, sans django-q2")
        parser.add_argument("--no-demo", action="store_true", help="ne jamais charger la démo")

    def handle(self, *args, host, port, no_worker, no_demo, **options):
        if port_busy(host, port):
            raise CommandError(
                f"Le port {port} est déjà utilisé sur {host} (un autre `make run` ?). Arrêtez-le, ou lancez "
                f"`make run PORT={port + 1}`. Rien n'a été démarré."
            )
        # The first start queues two tasks per demo document: django-q2's « Enqueued [syaga] N » line for each
        # (232 of them) would bury the sign-in details; the worker and the web server get the same level.
        q_log_level = os.environ.get("Q_LOG_LEVEL", "WARNING")
        logging.getLogger("django-q").setLevel(q_log_level)
        result = first_start(load_demo=not no_demo)
        report(result, self.stdout, self.style)
        self.stop_asked = False
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._ask_stop)
        parent = os.getppid()
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        env = {**os.environ, "Q_LOG_LEVEL": q_log_level}
        children = {}
        if not no_worker:
            # Our own interpreter and manage.py with fixed arguments: nothing from outside is executed.
            children["worker"] = subprocess.Popen([*manage, "qcluster"], start_new_session=True, env=env)  # noqa: S603
        children["web"] = subprocess.Popen(  # noqa: S603
            [*manage, "runserver", "--insecure", f"{host}:{port}"], start_new_session=True, env=env
        )
        try:
            if self._wait_ready(host, port, children, parent):
                url = f"http://{host}:{port}/admin/"
                self.stdout.write(
                    "\n"
                    + self.style.SUCCESS(f"Back-office : {url}")
                    + "\n"
                    + sign_in_text(result)
                    + "\nArrêt : Ctrl-C.\n"
                )
            while not self.stop_asked and not self._ended(children, parent):
                time.sleep(0.5)
        finally:
            self._stop(children)
        failed = [name for name, child in children.items() if child.returncode not in (0, None, -2, -15)]
        if failed and not self.stop_asked:
            raise CommandError(f"Arrêt : {', '.join(failed)} s'est arrêté de lui-même (voir ci-dessus).")
        self.stdout.write("Back-office arrêté.")

    def _ask_stop(self, signum, frame):
        self.stop_asked = True

    def _ended(self, children, parent) -> bool:
        """A child died, or ``make`` did (this process was handed to another parent)."""
        return any(child.poll() is not None for child in children.values()) or os.getppid() != parent

    def _wait_ready(self, host, port, children, parent) -> bool:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.stop_asked or self._ended(children, parent):
                return False
            if answers(host, port):
                time.sleep(0.5)  # let the server finish its own banner
                return True
            time.sleep(0.3)
        return False

    def _stop(self, children) -> None:
        """TERM to the cluster's main process, INT to the web server's group; kill what outlives the grace."""
        signals = {"worker": (signal.SIGTERM, False), "web": (signal.SIGINT, True)}
        for name, child in children.items():
            if child.poll() is None:
                signum, group = signals[name]
                try:
                    if group:
                        os.killpg(child.pid, signum)
                    else:
                        child.send_signal(signum)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
        for child in children.values():
            # The group's leftovers (workers, the reloader's child) go with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            if child.poll() is None:
                child.wait(timeout=5)
