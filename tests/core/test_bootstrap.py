import os
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_q.models import Schedule

from invoicing.models import Contract, Invoice, SellerProfile
from invoicing.models.invoice import Status

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def test_first_start_loads_demo_creates_admin_with_random_password_and_schedules():
    # when
    out = StringIO()
    call_command("bootstrap", stdout=out)
    text = out.getvalue()
    # then: a seller profile, SYAGA's nine contracts worth 52,806.40 € HT a year, a year of numbered history
    assert SellerProfile.objects.count() == 1
    contracts = list(Contract.objects.all())
    assert len(contracts) == 9
    yearly = sum(c.amount_ht * (12 // c.period_months) for c in contracts)
    assert str(yearly) == "52806.40"
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert len(numbers) > 100
    assert Invoice.objects.filter(status=Status.PAID).exists()
    assert Invoice.objects.filter(status=Status.ISSUED).exists()
    # the admin user exists and its password is the one printed, shown once
    password = re.search(r"avec le mot de passe : (\S+)", text).group(1)
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password)
    assert Schedule.objects.exists()
    # when: a second start prints no password and loads nothing more
    again = StringIO()
    call_command("bootstrap", stdout=again)
    assert "mot de passe :" not in again.getvalue()
    assert Invoice.objects.count() == len(numbers)


def test_demo_numbers_are_gapless_per_year():
    call_command("seed_demo", stdout=StringIO())
    by_year: dict[str, list[int]] = {}
    for number in Invoice.objects.exclude(number=None).values_list("number", flat=True):
        # per series (F invoices, A credit notes) and year
        by_year.setdefault(number[:5], []).append(int(number[5:]))
    for seqs in by_year.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1))


def test_first_start_in_production_loads_no_demo_and_seed_demo_still_can(tmp_path):
    # given: an empty production database (ALLOWED_HOSTS and SECRET_KEY set, as on a real server)
    db = tmp_path / "db.sqlite3"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE")
        },
        "DATABASE_URL": f"sqlite:///{db}",
        "ALLOWED_HOSTS": "billing.example.fr",
        "SECRET_KEY": "production-" + "k" * 50,
    }

    def manage(*args):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def count(table):
        with closing(sqlite3.connect(db)) as conn:
            return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    manage("migrate", "--noinput")
    # when: the first start
    out = manage("bootstrap").stdout
    # then: no demo invoice was issued, no demo contract waits for the schedule, the admin user exists
    assert count("invoicing_invoice") == 0
    assert count("invoicing_contract") == 0
    assert count("invoicing_sellerprofile") == 0
    assert count("auth_user") == 1
    assert "démo non chargées" in out
    # when: someone asks for the demo explicitly
    seeded = manage("seed_demo")
    # then: it is there, with a word on what it means in production
    assert count("invoicing_contract") == 9
    assert count("invoicing_invoice") > 100
    assert "seront facturés par la planification" in seeded.stderr
