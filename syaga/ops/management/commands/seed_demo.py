from django.conf import settings
from django.core.management.base import BaseCommand

from syaga.core.dates import date_option, today
from syaga.ops.demo import demo_load
from syaga.ops.management.commands.bootstrap import demo_summary


class Command(BaseCommand):
    help = (
        "Charge la démo (profil vendeur, les neuf contrats de SYAGA, une année de factures, un compte "
        "bancaire dont les crédits en paient une partie) dans une base vide. `bootstrap` ne l'appelle qu'en "
        "développement ; en production elle ne se charge que sur demande."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today", help="faire comme si nous étions ce jour-là (JJ/MM/AAAA ou AAAA-MM-JJ)"
        )

    def handle(self, *args, **options):
        day = date_option("--today", options["today"], default=today())
        counts = demo_load(today=day)
        if counts.get("skipped"):
            self.stdout.write("La base contient déjà des factures : démo non chargée.")
            return
        self.stdout.write(self.style.SUCCESS(demo_summary(counts)))
        if settings.PRODUCTION:
            self.stderr.write(
                "Attention : base de production. Les factures de démo ont pris de vrais numéros et les "
                f"{counts['contracts']} contrats de démo seront facturés par la planification."
            )
