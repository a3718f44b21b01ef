from django.core.management.base import BaseCommand

from syaga.ops.services import FirstStart, first_start


def sign_in_text(result: FirstStart) -> str:
    """The sign-in details: the password when it was created now (shown only then), else where it is."""
    if result.password:
        return (
            f"Admin user created. Sign in at /admin/ as « {result.username} » "
            f"with password: {result.password}\n"
            "This password is shown only now; change it with `python manage.py changepassword admin`."
        )
    return (
        f"Sign in as « {result.username} » with the password printed at the first start "
        f"(`python manage.py changepassword {result.username}` sets a new one)."
    )


def report(result: FirstStart, stdout, style) -> None:
    """What the start did, minus the sign-in details (``make run`` prints those last)."""
    if result.demo_refused_in_production:
        stdout.write(
            "Production (ALLOWED_HOSTS défini) : données de démo non chargées. "
            "`python manage.py seed_demo` les charge si vous le voulez vraiment."
        )
    if result.demo:
        stdout.write(style.SUCCESS(demo_summary(result.demo)))
    created = [name for name, was_created in result.schedules if was_created]
    if created:
        stdout.write(f"Planification écrite : {', '.join(created)}.")
    if result.alerts_raised:
        stdout.write(f"{result.alerts_raised} alerte(s) d'impayé levée(s).")


def demo_summary(counts: dict) -> str:
    return (
        f"Demo loaded: {counts['clients']} clients, {counts['contracts']} contracts, "
        f"{counts['invoices']} invoices ({counts['paid']} paid)"
        + (f", {counts['transactions']} bank transactions" if counts.get("transactions") else "")
        + "."
    )


class Command(BaseCommand):
    help = (
        "First-start chores: in development (no ALLOWED_HOSTS) load the demo data when the database is "
        "empty, create the admin user with a random password printed once, write the schedules, raise "
        "the overdue alerts. Harmless when run again. In production the demo is never loaded: "
        "`seed_demo` loads it explicitly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="never load the demo data")
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        result = first_start(username=options["username"], load_demo=not options["no_demo"])
        report(result, self.stdout, self.style)
        if result.password:
            self.stdout.write(self.style.SUCCESS("\n" + sign_in_text(result) + "\n"))
