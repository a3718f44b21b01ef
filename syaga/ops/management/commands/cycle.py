"""``cycle daily|weekly|month-end [--date D] [--dry-run]``: the firm's day, step by step."""

from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import DateError, parse_date, today
from syaga.ops.cycles import CycleBusy, cycle_run
from syaga.ops.models import CycleKind, RunStatus, StepStatus

MARKS = {
    StepStatus.OK: "ok ",
    StepStatus.FAILED: "ÉCHEC",
    StepStatus.SKIPPED: "—  ",
    StepStatus.NOT_CONFIGURED: "n/c",
}


class Command(BaseCommand):
    help = (
        "Runs a cycle: each step in order (recurring invoices, validation rules, bank sync and matching, "
        "overdue alerts…), each one recorded with its counts or its error; a failing step stops nothing. "
        "Exit code 1 when a step failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=CycleKind.values)
        parser.add_argument(
            "--date", help="the business day of the cycle (default: today), dd/mm/yyyy or ISO"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="run every step, keep nothing, send nothing"
        )

    def handle(self, *args, kind, date=None, dry_run=False, **options):
        try:
            day = parse_date(date) if date else today()
        except DateError as exc:
            raise CommandError(f"--date : {exc}") from exc
        try:
            run = cycle_run(kind=kind, day=day, dry_run=dry_run)
        except CycleBusy as exc:
            raise CommandError(str(exc)) from exc
        prefix = "(simulation) " if dry_run else ""
        self.stdout.write(f"{prefix}{run}")
        for step in run.steps.all():
            counts = ", ".join(f"{name} : {value}" for name, value in step.counts.items())
            detail = " ; ".join(part for part in (counts, step.message, step.error) if part)
            self.stdout.write(f"  [{MARKS[step.status]}] {step.label}{' — ' + detail if detail else ''}")
        if run.status == RunStatus.FAILED:
            raise CommandError("au moins une étape a échoué (détail ci-dessus)")
        self.stdout.write(self.style.SUCCESS(f"{prefix}cycle terminé sans erreur"))
