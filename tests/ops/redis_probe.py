"""A task for the two-cluster test: records which process ran which job (one line per run, appended)."""

import os
import time
from pathlib import Path


def record(*, job: int, folder: str) -> int:
    time.sleep(0.1)  # long enough for the two clusters' workers to take turns
    with Path(folder, "runs.txt").open("a") as runs:
        runs.write(f"{job} {os.getpid()}\n")
    return job
