"""``health [--json]``: is everything the firm's machine needs well? Exit 0 only when nothing is down."""

from django.core.management.base import BaseCommand, CommandError

from syaga.core.output import json_dumps
from syaga.ops.health import FAIL, NOT_CONFIGURED, OK, WARN, health_report

MARKS = {OK: "ok", WARN: "!!", FAIL: "KO", NOT_CONFIGURED: "--"}


class Command(BaseCommand):
    help = (
        "Vérifie la base de données, la file d'attente django-q2 (ORM ou Redis) et son cluster, la dernière "
        "exécution de chaque tâche planifiée, le dernier cycle, Qonto, Clockify, l'envoi (SMTP) et la boîte "
        "surveillée (IMAP), l'intégrité des factures, l'espace disque des archives, les polices de "
        "WeasyPrint et la validation à quatre yeux. Code de sortie 1 quand l'un d'eux est en panne."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help='affiche {"ok": bool, "checks": [...]}')

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
