import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from invoicing.models import Invoice, SellerProfile


class Command(BaseCommand):
    help = (
        "First-start chores for `make run`: in development (no ALLOWED_HOSTS) load the demo data when the "
        "database is empty, create the admin user with a random password printed once, write the schedules. "
        "Harmless when run again. In production the demo is never loaded: `seed_demo` loads it explicitly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="never load the demo data")
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        empty = not SellerProfile.objects.exists() and not Invoice.objects.exists()
        if empty and settings.PRODUCTION:
            # Demo invoices would take real numbers and demo contracts would be billed by the schedule.
            self.stdout.write(
                "Production (ALLOWED_HOSTS défini) : données de démo non chargées. "
                "`python manage.py seed_demo` les charge si vous le voulez vraiment."
            )
        elif empty and not options["no_demo"]:
            call_command("seed_demo", stdout=self.stdout)
        user_model = get_user_model()
        if not user_model.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(options["username"], "", password)
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nAdmin user created. Sign in at /admin/ as « {options['username']} » "
                    f"with password: {password}\n"
                    "This password is shown only now; change it with "
                    "`python manage.py changepassword admin`.\n"
                )
            )
        call_command("setup_schedules", stdout=self.stdout)
