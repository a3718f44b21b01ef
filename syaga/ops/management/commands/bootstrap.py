from django.core.management.base import BaseCommand

from syaga.ops.services import FirstStart, first_start


def sign_in_text(result: FirstStart) -> str:
    """The sign-in details: the password when it was created now (shown only then), else where it is."""
    if result.password:
        return (
            f"Compte administrateur créé. Connectez-vous sur /admin/ en tant que « {result.username} » "
            f"avec le mot de passe : {result.password}\n"
            "Ce mot de passe n'est affiché qu'une fois ; changez-le avec "
            f"`python manage.py changepassword {result.username}`."
        )
    return (
        f"Connectez-vous en tant que « {result.username} » avec le mot de passe affiché au premier démarrage "
        f"(`python manage.py changepassword {result.username}` en définit un nouveau)."
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
        f"Démo chargée : {counts['clients']} clients, {counts['contracts']} contrats, "
        f"{counts['invoices']} factures ({counts['paid']} payées)"
        + (f", {counts['transactions']} opérations bancaires" if counts.get("transactions") else "")
        + "."
    )


class Command(BaseCommand):
    help = (
        "Les tâches du premier démarrage : en développement (sans ALLOWED_HOSTS), charger la démo si la base "
        "est vide, créer le compte administrateur avec un mot de passe aléatoire affiché une fois, écrire "
        "les tâches planifiées, lever les alertes d'impayés. Sans effet si on le relance. En production la "
        "démo n'est jamais chargée : `seed_demo` la charge sur demande."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="ne jamais charger la démo")
        parser.add_argument(
            "--username", default="admin", help="le compte administrateur (par défaut : admin)"
        )

    def handle(self, *args, **options):
        result = first_start(username=options["username"], load_demo=not options["no_demo"])
        report(result, self.stdout, self.style)
        if result.password:
            self.stdout.write(self.style.SUCCESS("\n" + sign_in_text(result) + "\n"))
