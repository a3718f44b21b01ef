"""Classify saved messages (.eml) with the inbox's own code: category, dispute urgency, invoice."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mailbox.services.classification import reply_classify
from mailbox.services.linking import link, numbers_in
from mailbox.services.parsing import parse_message
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = "Classe des e-mails enregistrés (.eml) : ack, question, dispute, payment, delay ou auto_reply."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.eml")
        parser.add_argument("--json", action="store_true", help="un tableau JSON pour une machine")

    def handle(self, *args, files, json=False, **options):
        missing = [name for name in files if not Path(name).is_file()]
        if missing:
            raise CommandError(f"{missing[0]} : fichier introuvable")
        results = []
        for name in files:
            parsed = parse_message(Path(name).read_bytes())
            verdict = reply_classify(
                subject=parsed.subject, body=parsed.text, html=parsed.html, headers=parsed.headers
            )
            found = link(parsed, new_text=verdict.new_text)
            cited = numbers_in(parsed.subject) + numbers_in(verdict.new_text) + numbers_in(parsed.text)
            invoice = found.invoice.number if found.invoice is not None else (cited[0] if cited else None)
            results.append(
                {"file": name, "category": verdict.category, "urgency": verdict.urgency, "invoice": invoice}
            )
            if not json:
                urgency = f" urgence {verdict.urgency}" if verdict.urgency else ""
                self.stdout.write(f"{name}: {verdict.category}{urgency}  facture {invoice or '—'}")
                for reason in verdict.reasons[:6]:
                    self.stdout.write(f"    {reason}")
        if json:
            self.stdout.write(json_dumps(results))
