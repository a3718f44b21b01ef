from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.models import Schedule

from syaga.core.schedules import schedules_sync


class Command(BaseCommand):
    help = (
        "Écrit les tâches planifiées django-q2 que déclare le tasks.py de chaque application (sans effet si "
        "rien n'a changé) et affiche la prochaine exécution de chacune."
    )

    def handle(self, *args, **options):
        results = schedules_sync()
        next_runs = dict(
            Schedule.objects.filter(name__in=[name for name, _ in results]).values_list("name", "next_run")
        )
        for name, created in results:
            state = "créée" if created else "à jour"
            when = next_runs.get(name)
            after = (
                f"prochaine exécution le {timezone.localtime(when):%d/%m/%Y %H:%M}"
                if when
                else "non planifiée"
            )
            self.stdout.write(f"{name} ({state}) : {after}")
