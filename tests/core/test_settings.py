"""Settings as a new user and as production meet them: no environment, production mode, check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, env_extra=None, tmp_path=None):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "ALLOWED_HOSTS", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    if tmp_path is not None:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_runs_with_no_environment_at_all(tmp_path):
    result = manage("check", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_mode_without_secret_key_is_a_clear_startup_error(tmp_path):
    result = manage("check", env_extra={"ALLOWED_HOSTS": "billing.example.fr"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


PRODUCTION = {
    "ALLOWED_HOSTS": "billing.example.fr",
    "SECRET_KEY": "x" * 20 + "Yz9-_aBcDeFgHiJkLmNoPqRsTuVwXy0123456789",
}


def test_check_deploy_reports_nothing_in_production_mode_on_postgresql():
    # `check` opens no connection: the URL only has to name PostgreSQL
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={**PRODUCTION, "DATABASE_URL": "postgres://syaga@db.example.fr:5432/syaga"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_says_plainly_that_production_runs_on_sqlite():
    # given: production mode without DATABASE_URL, i.e. on the embedded SQLite
    # when
    result = manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION)
    # then: one warning, in French, naming the file and the way out
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "syaga.W001" in output
    assert "tourne sur SQLite" in output
    assert "var/db.sqlite3" in output
    assert "DATABASE_URL=postgres://" in output
    assert output.count("?: (") == 1, output  # nothing else to fix


def test_settings_defaults(settings):
    assert settings.TIME_ZONE == "Europe/Paris"
    assert settings.LANGUAGE_CODE == "fr-fr"
    assert settings.USE_TZ is True
    assert settings.DEBUG is False


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/", "/admin/invoicing/invoice/"])
def test_pages_need_a_signed_in_staff_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_login_page_is_public_and_non_staff_users_are_turned_away(client):
    from tests.factories import UserFactory

    assert client.get(reverse("admin:login")).status_code == 200
    client.force_login(UserFactory(username="visitor", is_staff=False))
    assert "/admin/login/" in client.get("/admin/")["Location"]
