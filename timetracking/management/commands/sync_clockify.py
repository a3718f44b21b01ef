import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from syaga.core.dates import DateError, parse_date
from timetracking.clients.clockify import ClockifyAuthError, ClockifyConfigError, ClockifyError
from timetracking.services.clockify_sync import clockify_sync


class Command(BaseCommand):
    help = (
        "Fetch the Clockify time entries of every workspace user since the last sync (or --since DATE), and "
        "the running timers. Runs every 15 minutes in working hours from the schedule; a repeated or "
        "interrupted run is harmless. Without CLOCKIFY_API_KEY it says so and does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="re-read the entries started since this date (yyyy-mm-dd or dd/mm/yyyy) instead of since "
            "the last sync",
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
            report = clockify_sync(since=start)
        except ClockifyConfigError as exc:
            self.stdout.write(self.style.WARNING(f"Clockify sync skipped: {exc}."))
            return
        except ClockifyAuthError as exc:
            raise CommandError(f"{exc}") from exc
        except ClockifyError as exc:
            raise CommandError(f"Clockify sync stopped, nothing lost (the next run resumes): {exc}") from exc
        for user in report.users:
            c = user.counts
            self.stdout.write(
                f"  {user.name}: {user.read} read since {timezone.localtime(user.since):%d/%m/%Y %H:%M}, "
                f"{c.created} created, {c.updated} updated, {c.unchanged} unchanged, {user.deleted} deleted"
                + (", timer running" if user.running else "")
            )
        self.stdout.write(self.style.SUCCESS(str(report)))
