import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from banking.clients.qonto import QontoAuthError, QontoConfigError, QontoError, client_from_settings
from banking.services.qonto_sync import qonto_sync
from syaga.core.dates import DateError, parse_date


class Command(BaseCommand):
    help = (
        "Fetch Qonto bank accounts and the transactions updated since the last sync (or --since DATE). "
        "Runs every 15 minutes from the schedule; a repeated or interrupted run is harmless."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="re-read transactions updated since this date (yyyy-mm-dd or dd/mm/yyyy) "
            "instead of the last sync",
        )

    def handle(self, *args, since=None, **options):
        start = None
        if since:
            try:
                day = parse_date(since)
            except DateError as exc:
                raise CommandError(f"--since: {exc}") from exc
            start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        try:
            report = qonto_sync(client=client_from_settings(), since=start)
        except QontoConfigError as exc:
            raise CommandError(str(exc)) from exc
        except QontoAuthError as exc:
            raise CommandError(f"Qonto refused the credentials: {exc}") from exc
        except QontoError as exc:
            raise CommandError(f"Qonto sync stopped, nothing lost (the next run resumes): {exc}") from exc
        self.stdout.write(f"accounts: {report.accounts_created} created, {report.accounts_updated} updated")
        for line in report.accounts:
            c = line.counts
            self.stdout.write(
                f"  {line.name or line.qonto_id}: {line.pages} page(s), {c.created} created, "
                f"{c.updated} updated, {c.unchanged} unchanged"
            )
        t = report.transactions
        self.stdout.write(
            self.style.SUCCESS(
                f"transactions: {t.created} created, {t.updated} updated, {t.unchanged} unchanged"
            )
        )
