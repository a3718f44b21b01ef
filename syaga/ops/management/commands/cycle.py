"""``cycle daily|weekly|month-end [--date D] [--dry-run]``: the firm's day, step by step."""

from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import date_option, today
from syaga.core.money import format_count
from syaga.ops.cycles import CycleBusy, cycle_run
from syaga.ops.models import CycleKind, RunStatus, StepStatus

MARKS = {
    StepStatus.OK: "ok ",
    StepStatus.FAILED: "ÉCHEC",
    StepStatus.SKIPPED: "—  ",
    StepStatus.NOT_CONFIGURED: "n/c",
}


def _count(value) -> str:
    """A count as the firm reads it: ``30 000`` (narrow no-break space); text (an amount) as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return format_count(value)
    return str(value)


class Command(BaseCommand):
    help = (
        "Lance un cycle : chaque étape dans l'ordre (factures récurrentes, règles de validation, "
        "synchronisation bancaire et rapprochement, alertes d'impayés…), chacune enregistrée avec ses "
        "comptes ou son erreur ; une étape en échec n'arrête pas les autres. Code de sortie 1 quand une "
        "étape a échoué."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=CycleKind.values)
        parser.add_argument(
            "--date", help="le jour du cycle (par défaut : aujourd'hui), JJ/MM/AAAA ou AAAA-MM-JJ"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="simulation : chaque étape tourne sans rien garder ; ce qui serait écrit ou envoyé est "
            "compté",
        )

    def handle(self, *args, kind, date=None, dry_run=False, **options):
        day = date_option("--date", date, default=today())
        try:
            run = cycle_run(kind=kind, day=day, dry_run=dry_run)
        except CycleBusy as exc:
            raise CommandError(str(exc)) from exc
        prefix = "(simulation) " if dry_run else ""
        self.stdout.write(f"{prefix}{run}")
        for step in run.steps.all():
            counts = ", ".join(f"{name} : {_count(value)}" for name, value in step.counts.items())
            detail = " ; ".join(part for part in (counts, step.message, step.error) if part)
            self.stdout.write(f"  [{MARKS[step.status]}] {step.label}{' — ' + detail if detail else ''}")
        if dry_run:
            self._preview(run)
        if run.status == RunStatus.FAILED:
            raise CommandError("au moins une étape a échoué (détail ci-dessus)")
        self.stdout.write(self.style.SUCCESS(f"{prefix}cycle terminé sans erreur"))

    def _preview(self, run) -> None:
        """What a real run would do: the counts of the steps that write files or reach the outside."""
        wanted = ("factures créées", "PDF à écrire", "e-mails à envoyer", "relances dues")
        found = {}
        for step in run.steps.all():
            for name, value in step.counts.items():
                if name in wanted:
                    found[name] = found.get(name, 0) + value
        if found:
            said = ", ".join(f"{name} : {_count(found[name])}" for name in wanted if name in found)
            self.stdout.write(f"(simulation) un vrai cycle ferait : {said}")
