"""django-q2 clusters started as `make run` starts them, in processes of their own, for the tests that need a
live one (the Redis broker: two clusters sharing the work, `health` seeing one alive)."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def cluster_start(env: dict) -> subprocess.Popen:
    """`manage.py qcluster` with this environment, in a process group of its own, its output discarded."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def clusters_stop(*clusters: subprocess.Popen, grace: float = 10) -> None:
    """TERM to each cluster's group, then KILL what is still there after ``grace`` seconds."""
    for cluster in clusters:
        os.killpg(cluster.pid, signal.SIGTERM)
    for cluster in clusters:
        try:
            cluster.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
