from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import DateError, parse_date
from timetracking.services.coaching import (
    coaching_daily_report,
    coaching_hourly,
    coaching_now,
    reminders_deliver,
)


class Command(BaseCommand):
    help = (
        "Coaching reminders, stored and shown in the admin (and e-mailed once the mail engine is wired): "
        "--now runs the 15-minute checks (timer running too long, no timer in working hours) and the hourly "
        "point; --daily-report writes each consultant's report of the day. Each reminder happens once."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--now", action="store_true", help="the 15-minute checks and the hourly point")
        group.add_argument("--daily-report", action="store_true", help="the daily report per consultant")
        parser.add_argument("--date", metavar="DATE", help="with --daily-report: that day (default today)")

    def handle(self, *args, now, daily_report, date=None, **options):
        if now:
            reminders = coaching_now() + coaching_hourly()
        else:
            day = None
            if date:
                try:
                    day = parse_date(date)
                except DateError as exc:
                    raise CommandError(f"--date: {exc}") from exc
            reminders = coaching_daily_report(day=day)
        for reminder in reminders:
            self.stdout.write(f"  {reminder.consultant}: {reminder.subject}")
        delivered = reminders_deliver()
        self.stdout.write(
            self.style.SUCCESS(f"{len(reminders)} reminder(s) stored, {delivered} delivered by e-mail.")
        )
