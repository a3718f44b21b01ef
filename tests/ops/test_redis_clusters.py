"""Two django-q2 clusters in two processes share the work through the Redis server: each job runs once."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from tests.ops.clusters import cluster_start, clusters_stop, redis_answers

ROOT = Path(__file__).resolve().parents[2]
JOBS = 40


@pytest.mark.postgres  # the clusters save their results in the test database, which they must reach
@pytest.mark.django_db(transaction=True)
def test_two_clusters_on_redis_run_each_job_once(tmp_path):
    if not redis_answers():
        pytest.fail("no Redis on 127.0.0.1:6379 (the project's machines run one)")
    settings = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}",
        Q_BROKER="redis",
        REDIS_URL="redis://127.0.0.1:6379/14",
        Q_CLUSTER_NAME=f"test-{uuid.uuid4().hex[:8]}",  # a queue of its own
        Q_WORKERS="2",
    )
    clusters = [cluster_start(env) for _ in range(2)]
    try:
        # when: jobs are queued from a third process (the web server's role)
        # once both clusters have announced themselves in Redis (django-q2's cluster stats)
        enqueue = (
            "import django, os, time; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'syaga.settings'); "
            "django.setup(); from django_q.tasks import async_task; from django_q.status import Stat; "
            "from django_q.brokers import get_broker; deadline = time.monotonic() + 60\n"
            "while len(Stat.get_all(get_broker())) < 2 and time.monotonic() < deadline: time.sleep(0.2)\n"
            f"[async_task('tests.ops.redis_probe.record', job=i, folder={str(tmp_path)!r}) "
            f"for i in range({JOBS})]"
        )
        subprocess.run([sys.executable, "-c", enqueue], cwd=ROOT, env=env, check=True, timeout=60)
        runs_file = tmp_path / "runs.txt"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if runs_file.exists() and len(runs_file.read_text().splitlines()) >= JOBS:
                break
            time.sleep(0.5)
        time.sleep(2)  # a duplicate would show up now
    finally:
        clusters_stop(*clusters, grace=3)
    # then: every job ran exactly once, and the work was shared between the two clusters' workers
    lines = [line.split() for line in (tmp_path / "runs.txt").read_text().splitlines()]
    jobs = sorted(int(job) for job, _ in lines)
    assert jobs == list(range(JOBS))
    assert len({pid for _, pid in lines}) >= 3  # workers of both clusters (two each) took jobs
