"""`make test`: the suite on SQLite, then on PostgreSQL.

PostgreSQL is used when TEST_POSTGRES_URL is set, or when a server answers on 127.0.0.1:5432 (user
postgres, database test, as on the project's machines). With REQUIRE_POSTGRES=1 a missing PostgreSQL is a
failure, never a skip. Extra arguments go to pytest (``make test`` passes none).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return DEFAULT_PG
    except OSError:
        return None


def run(label: str, env: dict, args: list[str]) -> int:
    print(f"\n=== tests on {label} ===", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)


def main() -> int:
    args = sys.argv[1:]
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ALLOWED_HOSTS", "DEBUG")}
    sqlite_env = dict(base, DATABASE_URL=f"sqlite:///{ROOT / 'var' / 'test.sqlite3'}", TEST_DB_LABEL="sqlite")
    status = run("SQLite", sqlite_env, args)
    url = postgres_url()
    if url is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            print(
                "REQUIRE_POSTGRES=1 but no PostgreSQL answers (set TEST_POSTGRES_URL or start one on "
                "127.0.0.1:5432)",
                file=sys.stderr,
            )
            return 1
        print("PostgreSQL not found on 127.0.0.1:5432 and TEST_POSTGRES_URL unset: PostgreSQL pass skipped")
        return status
    pg_env = dict(base, DATABASE_URL=url, TEST_DB_LABEL="postgres", REQUIRE_POSTGRES="1")
    pg_status = run(f"PostgreSQL ({url.rsplit('@', 1)[-1]})", pg_env, args)
    return status or pg_status


if __name__ == "__main__":
    sys.exit(main())
