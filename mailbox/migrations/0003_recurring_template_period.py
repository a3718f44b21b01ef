"""The recurring invoice's e-mail read « de votre forfait pour du 01/12/2025 au 28/02/2026 » for a quarter:
the period goes in brackets (« de votre forfait (mars 2025) », « … (du 01/12/2025 au 28/02/2026) »). A body
already edited in the admin is left as its author wrote it."""

from django.db import migrations

OLD = "de votre forfait{% if period %} pour {{ period }}{% endif %}"
NEW = "de votre forfait{% if period %} ({{ period }}){% endif %}"


def forwards(apps, schema_editor):
    MailTemplate = apps.get_model("mailbox", "MailTemplate")
    for template in MailTemplate.objects.filter(body__contains=OLD):
        template.body = template.body.replace(OLD, NEW)
        template.save(update_fields=["body"])


def backwards(apps, schema_editor):
    MailTemplate = apps.get_model("mailbox", "MailTemplate")
    for template in MailTemplate.objects.filter(body__contains=NEW):
        template.body = template.body.replace(NEW, OLD)
        template.save(update_fields=["body"])


class Migration(migrations.Migration):
    dependencies = [("mailbox", "0002_default_templates")]

    operations = [migrations.RunPython(forwards, backwards)]
