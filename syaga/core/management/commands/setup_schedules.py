from django.core.management.base import BaseCommand

from syaga.core.schedules import schedules_sync


class Command(BaseCommand):
    help = "Write the django-q2 schedules declared in each app's tasks.py (idempotent)."

    def handle(self, *args, **options):
        for name, created in schedules_sync():
            self.stdout.write(f"{'created' if created else 'updated'}: {name}")
