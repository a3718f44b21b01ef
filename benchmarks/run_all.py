"""Run every benchmarks/bench_*.py script in turn (each prints its own medians)."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

status = 0
for script in sorted(HERE.glob("bench_*.py")):
    print(f"\n=== {script.name} ===", flush=True)
    status |= subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
sys.exit(status)
