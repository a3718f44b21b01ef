"""Today's match statuses mapped to the ones that say what they mean.

- ``matched`` with an allocation a person made (method ``manual``) → ``confirmed`` (confirmé par une
  personne), decided by that person at its processing time; other ``matched`` stay (automatic).
- ``unmatched`` that a person marked ("marked as paying no invoice by …" in its reasons), or the older
  ``ignored`` → ``no_invoice`` (ne paie aucune facture), decided; the other ``unmatched`` → ``unrecognised``
  (non reconnu), which the matcher may look at again.
"""

from django.db import migrations

MARKED = "marked as paying no invoice"


def forwards(apps, schema_editor):
    BankTransaction = apps.get_model("banking", "BankTransaction")
    PaymentAllocation = apps.get_model("banking", "PaymentAllocation")
    manual = PaymentAllocation.objects.filter(method="manual")
    for tx_id, user_id in manual.values_list("transaction_id", "created_by_id").distinct():
        tx = BankTransaction.objects.filter(pk=tx_id, match_status="matched").first()
        if tx is None:
            continue
        tx.match_status = "confirmed"
        tx.decided_by_id = user_id
        tx.decided_at = tx.processed_at or tx.updated_at
        tx.save(update_fields=["match_status", "decided_by", "decided_at"])
    BankTransaction.objects.filter(match_status="ignored").update(match_status="no_invoice")
    for tx in BankTransaction.objects.filter(match_status="unmatched").only(
        "pk", "match_reasons", "processed_at"
    ):
        marked = any(MARKED in str(r) for r in tx.match_reasons or [])
        BankTransaction.objects.filter(pk=tx.pk).update(
            match_status="no_invoice" if marked else "unrecognised",
            decided_at=tx.processed_at if marked else None,
        )


def backwards(apps, schema_editor):
    BankTransaction = apps.get_model("banking", "BankTransaction")
    BankTransaction.objects.filter(match_status="confirmed").update(match_status="matched")
    BankTransaction.objects.filter(match_status__in=["no_invoice", "unrecognised"]).update(
        match_status="unmatched"
    )


class Migration(migrations.Migration):
    dependencies = [("banking", "0003_statuses_person_decisions_client_credit")]

    operations = [migrations.RunPython(forwards, backwards)]
