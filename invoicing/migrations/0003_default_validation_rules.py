"""SYAGA's default rules, so that a fresh install validates invoices before they leave."""

from decimal import Decimal

from django.db import migrations

DEFAULT_RULES = [
    # (order, name, check, threshold, comparison, action, description)
    (10, "Total HT trop faible", "total_ht", Decimal("10.00"), "lt", "reject",
     "Une facture de moins de 10 € HT ne vaut pas son traitement."),
    (20, "Client sans e-mail de facturation", "client_missing_email", None, "", "reject",
     "La facture ne pourrait pas être envoyée."),
    (30, "Client sans SIREN", "client_missing_siren", None, "", "reject",
     "Le SIREN du client est une mention obligatoire."),
    (40, "Mention légale manquante", "legal_mentions_missing", None, "", "reject",
     "Vendeur, acheteur, dates et lignes complets (art. L441-9 du code de commerce, 242 nonies A CGI)."),
    (50, "Échéance au-delà du délai légal", "due_date_beyond_legal_limit", None, "", "reject",
     "60 jours après l'émission ou 45 jours fin de mois (art. L441-10) : la plus tardive des deux."),
    (60, "Montant élevé", "total_ht", Decimal("2000.00"), "gt", "review",
     "Au-delà de 2 000 € HT, une personne relit la facture."),
    (70, "Première facture du client", "first_invoice_for_client", None, "", "review", ""),
    (80, "Montant différent du contrat", "amount_differs_from_contract", Decimal("0.00"), "", "review",
     "Le total HT diffère du montant du contrat."),
    (90, "Heures inhabituelles", "hours_above_usual", Decimal("50.00"), "", "review",
     "Facture ponctuelle dont les heures dépassent de plus de 50 % la médiane mensuelle des 12 derniers mois."),
    (100, "Récurrente conforme au contrat", "recurring_matches_contract", None, "", "approve",
     "Facture récurrente égale au montant du contrat, client (ou contrat) en approbation automatique."),
]


def create_rules(apps, schema_editor):
    ValidationRule = apps.get_model("invoicing", "ValidationRule")
    if ValidationRule.objects.exists():
        return
    ValidationRule.objects.bulk_create([
        ValidationRule(order=order, name=name, check_kind=check, threshold=threshold, comparison=comparison,
                       action=action, description=description, active=True)
        for order, name, check, threshold, comparison, action, description in DEFAULT_RULES
    ])


def delete_rules(apps, schema_editor):
    apps.get_model("invoicing", "ValidationRule").objects.filter(
        name__in=[r[1] for r in DEFAULT_RULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0002_validation")]

    operations = [migrations.RunPython(create_rules, delete_rules)]
