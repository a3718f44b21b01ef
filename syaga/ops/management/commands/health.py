"""``health [--json]``: is everything the firm's machine needs well? Exit 0 only when nothing is down."""

from django.core.management.base import BaseCommand, CommandError

from syaga.core.output import json_dumps
from syaga.ops.health import FAIL, NOT_CONFIGURED, OK, WARN, health_report

MARKS = {OK: "ok", WARN: "!!", FAIL: "KO", NOT_CONFIGURED: "--"}


class Command(BaseCommand):
    help = (
        "Checks the database, the django-q2 cluster and each schedule's last run, the last cycle, Qonto, "
        "the archive's disk space, WeasyPrint's fonts and four-eyes approval. Exit code 1 when one is down."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help='print {"ok": bool, "checks": [...]}')

    def handle(self, *args, json=False, **options):
        report = health_report()
        if json:
            self.stdout.write(json_dumps(report))
        else:
            for check in report["checks"]:
                self.stdout.write(f"[{MARKS[check['status']]}] {check['name']} : {check['detail']}")
        if not report["ok"]:
            down = [c["name"] for c in report["checks"] if c["status"] == FAIL]
            raise CommandError(f"en panne : {', '.join(down)}")
        if not json:
            self.stdout.write(self.style.SUCCESS("tout va bien"))
