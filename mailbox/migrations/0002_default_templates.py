"""The six e-mail templates, in French, ready to edit in the admin (one per kind; J+15 / J+30 / J+45)."""

from django.db import migrations

from mailbox.defaults import TEMPLATES


def create(apps, schema_editor):
    MailTemplate = apps.get_model("mailbox", "MailTemplate")
    for kind, (subject, days, body) in TEMPLATES.items():
        MailTemplate.objects.get_or_create(
            kind=kind, defaults={"subject": subject, "body": body, "days_after_due": days, "active": True}
        )


class Migration(migrations.Migration):
    dependencies = [("mailbox", "0001_mail")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
