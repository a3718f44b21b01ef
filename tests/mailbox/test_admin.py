"""The mail back-office: every admin page answers, templates are checked, the thread is reachable from the
invoice page, the dispute report adds up."""

import datetime as dt
from email.utils import formatdate

import pytest
from django.urls import reverse
from django.utils import timezone

from mailbox.models import DelayRequest, Dispute, InboundMessage, MailTemplate, OutboundMessage, Todo
from mailbox.services import sending
from mailbox.services.inbox import inbound_store
from tests.factories import ClientFactory, UserFactory
from tests.mailbox.helpers import reply, sent_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="chef", is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def world(seller, mailoutbox):
    customer = ClientFactory(name="Durand SAS", invoice_emails="compta@durand.fr")
    invoice = sent_invoice(issue_date=timezone.localdate() - dt.timedelta(days=50), client=customer)
    sending.invoice_resend(invoice=invoice, actor=None)
    sending.outbox_flush()
    later = formatdate((timezone.now() + dt.timedelta(hours=1)).timestamp(), localtime=True)
    inbound_store(
        reply(
            subject=f"RE: Facture {invoice.number}",
            sender="compta@durand.fr",
            date=later,
            message_id="<d@d.fr>",
            body="Nous contestons le montant.",
        )
    )
    inbound_store(
        reply(
            subject=f"RE: {invoice.number}",
            sender="compta@durand.fr",
            date=later,
            message_id="<q@d.fr>",
            body="Pouvez-vous renvoyer le RIB ?",
        )
    )
    inbound_store(
        reply(
            subject=f"RE: {invoice.number}",
            sender="compta@durand.fr",
            date=later,
            message_id="<p@d.fr>",
            body="Pouvons-nous payer en trois fois ?",
        )
    )
    return invoice


MODELS = (MailTemplate, OutboundMessage, InboundMessage, Dispute, DelayRequest, Todo)


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_search_and_change_page_answers(admin_client, world, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert admin_client.get(changelist, {"q": world.number}).status_code == 200
    obj = model.objects.first()
    assert (
        admin_client.get(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        ).status_code
        == 200
    )


def test_the_thread_is_linked_from_the_invoice_page_and_shows_both_sides_in_order(admin_client, world):
    invoice_page = admin_client.get(
        reverse("admin:invoicing_invoice_change", args=[world.pk])
    ).content.decode()
    thread_url = reverse("admin:mailbox_thread", args=[world.pk])
    assert f'href="{thread_url}"' in invoice_page
    page = admin_client.get(thread_url).content.decode()
    sent_at = page.index("envoyé à compta@durand.fr")
    answered = page.index("Nous contestons le montant.")
    assert sent_at < answered
    assert "contestation" in page
    assert "Pouvons-nous payer en trois fois ?" in page


def test_a_template_with_an_unknown_variable_or_levels_out_of_order_is_refused(admin_client, world):
    template = MailTemplate.objects.get(kind="dunning_2")
    url = reverse("admin:mailbox_mailtemplate_change", args=[template.pk])
    data = {"subject": "Relance {{ numero }}", "body": template.body, "days_after_due": 30, "active": "on"}
    response = admin_client.post(url, data)
    assert "Variable inconnue : {{ numero }}" in response.content.decode()
    data.update(subject=template.subject, days_after_due=10)
    response = admin_client.post(url, data)
    assert "Les relances doivent se suivre" in response.content.decode()
    assert MailTemplate.objects.get(pk=template.pk).days_after_due == 30
    data.update(days_after_due=35)
    assert admin_client.post(url, data).status_code == 302
    assert MailTemplate.objects.get(pk=template.pk).days_after_due == 35


def test_the_dispute_is_resolved_in_the_admin_with_a_note(admin_client, world):
    dispute = Dispute.objects.get()
    url = reverse("admin:mailbox_dispute_change", args=[dispute.pk])
    data = {"type": dispute.type, "urgency": dispute.urgency, "state": "resolved", "resolution_note": ""}
    assert "Dites comment le litige a été résolu." in admin_client.post(url, data).content.decode()
    data["resolution_note"] = "Avoir émis."
    assert admin_client.post(url, data).status_code == 302
    world.refresh_from_db()
    assert world.disputed_since is None


def test_the_monthly_dispute_report_counts_types_ages_and_amounts(admin_client, world):
    report = admin_client.get(reverse("admin:mailbox_dispute_report")).content.decode()
    assert "Litiges ouverts en" in report
    assert "Encore ouverts : 1" in report
    assert "erreur de montant" in report


def test_a_correction_action_reclassifies_messages(admin_client, world):
    message = InboundMessage.objects.get(message_id="<q@d.fr>")
    url = reverse("admin:mailbox_inboundmessage_changelist")
    admin_client.post(url, {"action": "correct_ack", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert message.corrected_category == "ack"


def test_correcting_a_reply_in_its_change_form_acts_on_the_new_category(admin_client, world):
    message = InboundMessage.objects.get(message_id="<q@d.fr>")
    Dispute.objects.all().delete()
    url = reverse("admin:mailbox_inboundmessage_change", args=[message.pk])
    response = admin_client.post(url, {"corrected_category": "dispute", "invoice": world.pk})
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.corrected_category, message.action) == ("dispute", "dispute")
    assert Dispute.objects.get().message == message
