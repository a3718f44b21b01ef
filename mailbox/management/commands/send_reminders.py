from django.core.management.base import BaseCommand

from mailbox.services.dunning import reminders_plan, reminders_send
from syaga.core.dates import date_option, today
from syaga.core.money import format_eur


class Command(BaseCommand):
    help = (
        "Envoie les relances dues aujourd'hui (J+15, J+30, J+45 par défaut) ; --dry-run : ce qui partirait."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="montrer sans rien envoyer")
        parser.add_argument("--date", help="jour de référence (jj/mm/aaaa), aujourd'hui par défaut")

    def handle(self, *args, dry_run=False, date=None, **options):
        on = date_option("--date", date, default=today())
        plan = reminders_plan(on=on) if dry_run else reminders_send(on=on).plan
        verb = "partirait" if dry_run else "en file"
        for reminder in plan.due:
            invoice = reminder.invoice
            self.stdout.write(
                f"{invoice.number}  {invoice.client}  niveau {reminder.level}  J+{reminder.days_late}  "
                f"{format_eur(invoice.total_ttc - invoice.amount_paid)}  → {', '.join(reminder.to)}  ({verb})"
            )
        for hold in plan.held:
            self.stdout.write(f"{hold.invoice.number}  {hold.invoice.client}  suspendue : {hold.reason}")
        done = "à envoyer" if dry_run else "envoyée(s) ou en file"
        summary = f"{len(plan.due)} relance(s) {done}, {len(plan.held)} suspendue(s)"
        self.stdout.write(
            self.style.SUCCESS(summary + (" (simulation : rien n'a été envoyé)" if dry_run else ""))
        )
