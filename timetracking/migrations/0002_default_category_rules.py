"""The issue's default categorisation, as rows a person can edit, reorder or deactivate in the admin."""

from django.db import migrations

DEFAULT_RULES = [
    # (order, name, match_on, pattern, category, description)
    (10, "La société elle-même", "own_firm", "", "interne",
     "Le temps passé pour le cabinet (client au nom du profil vendeur) n'est jamais facturé."),
    (20, "Étiquette « hors forfait »", "tag", "hors forfait", "facturable",
     "Travail demandé en dehors du contrat : facturé en plus du forfait."),
    (30, "Étiquette « extra »", "tag", "extra", "facturable",
     "Travail demandé en dehors du contrat : facturé en plus du forfait."),
    (40, "Client sous contrat", "with_contract", "", "forfait",
     "Couvert par le forfait du client (contrat actif à la date de la saisie)."),
    (50, "Client sans contrat", "without_contract", "", "facturable",
     "Facturé au temps passé, au taux horaire du client ou au taux par défaut."),
    (60, "Saisie sans client", "no_client", "", "interne",
     "Sans client, rien à facturer : à compléter dans Clockify si c'était du travail client."),
]


def create_rules(apps, schema_editor):
    CategoryRule = apps.get_model("timetracking", "CategoryRule")
    CategoryRuleChangeLog = apps.get_model("timetracking", "CategoryRuleChangeLog")
    if CategoryRule.objects.exists():
        return
    for order, name, match_on, pattern, category, description in DEFAULT_RULES:
        rule = CategoryRule.objects.create(
            order=order, name=name, match_on=match_on, pattern=pattern, category=category,
            description=description, active=True,
        )
        CategoryRuleChangeLog.objects.create(
            rule=rule, user=None, before=None,
            after={"name": name, "match_on": match_on, "pattern": pattern, "category": category,
                   "order": order, "active": True, "description": description},
        )


def delete_rules(apps, schema_editor):
    apps.get_model("timetracking", "CategoryRule").objects.filter(
        name__in=[r[1] for r in DEFAULT_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("timetracking", "0001_initial")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
