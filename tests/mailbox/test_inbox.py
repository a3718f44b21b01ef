"""The watched inbox, read from a real Dovecot: threading, UID resume after a crash, UIDVALIDITY, malformed
messages, nothing marked read, each message stored once."""

import base64
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from invoicing.models.invoice import Status
from mailbox.models import Dispute, InboundMessage, InboxState, Todo
from mailbox.models.inbound import Action, LinkMethod
from mailbox.services import inbox, sending
from mailbox.services.parsing import Flag
from tests.factories import ClientFactory
from tests.mailbox.helpers import issued_invoice, reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice(seller, mailoutbox):
    made = issued_invoice(client=ClientFactory(name="Durand SAS", invoice_emails="compta@durand.fr"))
    sending.invoices_send(invoice_ids=[made.pk])
    made.refresh_from_db()
    assert made.status == Status.SENT
    return made


def our_message_id(invoice) -> str:
    return invoice.mail_messages.get().message_id


def test_a_reply_threads_back_to_its_invoice_and_an_urgent_dispute_alerts_the_firm(
    invoice, dovecot, django_capture_on_commit_callbacks
):
    # given: the client answers our e-mail, quoting it
    dovecot.append(
        reply(
            subject=f"RE: Facture {invoice.number}",
            sender="compta@durand.fr",
            in_reply_to=our_message_id(invoice),
            body="Nous refusons de payer cette facture, la prestation n'a jamais été réalisée. "
            "Notre avocat vous contactera.\n\n> Veuillez trouver ci-joint la facture.",
        )
    )
    mail.outbox.clear()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        report = inbox.inbox_poll()
    # then: stored once, linked through the thread, classified, acted on
    assert report.folders[0].stored == 1
    message = InboundMessage.objects.get()
    assert (message.invoice, message.link_method) == (invoice, LinkMethod.THREAD)
    assert (message.category, message.urgency, message.action) == ("dispute", 5, Action.DISPUTE)
    dispute = Dispute.objects.get()
    assert (dispute.invoice, dispute.type, dispute.urgency) == (invoice, "not_delivered", 5)
    invoice.refresh_from_db()
    assert invoice.disputed_since is not None
    # and the firm was told at once
    [alert] = mail.outbox
    assert alert.to == ["direction@syaga.fr"]
    assert alert.subject == f"[Litige urgent] Facture {invoice.number} – Durand SAS"


def test_a_reply_is_linked_by_its_references_then_by_the_number_then_by_the_sender(invoice, dovecot):
    other = issued_invoice(client=ClientFactory(invoice_emails="ap@autre.fr"))
    dovecot.append(
        reply(
            subject="Re: votre envoi",
            message_id="<a@durand.fr>",
            sender="compta@durand.fr",
            body="Bien reçu merci",
            extra=f"References: <x@elsewhere> {our_message_id(invoice)}",
        )
    )
    dovecot.append(
        reply(
            subject=f"Question {other.number}",
            message_id="<b@x.fr>",
            sender="x@x.fr",
            body="Pouvez-vous m'envoyer le RIB ?",
        )
    )
    dovecot.append(
        reply(subject="Facture", message_id="<c@durand.fr>", sender="compta@durand.fr", body="C'est noté.")
    )
    inbox.inbox_poll()
    links = {m.message_id: (m.invoice_id, m.link_method) for m in InboundMessage.objects.all()}
    assert links == {
        "<a@durand.fr>": (invoice.pk, LinkMethod.THREAD),
        "<b@x.fr>": (other.pk, LinkMethod.NUMBER),
        "<c@durand.fr>": (invoice.pk, LinkMethod.CLIENT),
    }


def test_a_run_that_crashes_resumes_after_the_last_message_it_finished(invoice, dovecot, monkeypatch):
    # given: three questions in the inbox
    for n in range(1, 4):
        dovecot.append(
            reply(
                subject=f"Q{n}",
                message_id=f"<q{n}@durand.fr>",
                sender="compta@durand.fr",
                body=f"Pouvez-vous m'envoyer le RIB {n} ?",
            )
        )
    calls = []
    real_act = inbox.reply_act

    def crash_on_the_second(**kwargs):
        calls.append(kwargs["message"].message_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies while handling the second message
        return real_act(**kwargs)

    monkeypatch.setattr(inbox, "reply_act", crash_on_the_second)
    # when
    with pytest.raises(KeyboardInterrupt):
        inbox.inbox_poll()
    # then: the first is done and remembered, the second was rolled back
    state = InboxState.objects.get()
    assert list(InboundMessage.objects.values_list("message_id", flat=True)) == ["<q1@durand.fr>"]
    first_uid = InboundMessage.objects.get().uid
    assert state.last_uid == first_uid
    # when: the next run
    monkeypatch.setattr(inbox, "reply_act", real_act)
    inbox.inbox_poll()
    # then: every message once, every question once in the to-do list
    assert sorted(InboundMessage.objects.values_list("message_id", flat=True)) == [
        "<q1@durand.fr>",
        "<q2@durand.fr>",
        "<q3@durand.fr>",
    ]
    assert Todo.objects.count() == 3
    assert InboxState.objects.get().last_uid == first_uid + 2


def test_a_run_with_nothing_new_stores_nothing(invoice, dovecot):
    dovecot.append(reply(subject="Q", body="Bien reçu"))
    inbox.inbox_poll()
    # when: "N:*" answers the highest UID even when it is below N
    report = inbox.inbox_poll()
    # then
    assert (report.folders[0].fetched, report.folders[0].stored) == (0, 0)
    assert InboundMessage.objects.count() == 1


def test_a_new_uidvalidity_rereads_the_folder_without_duplicates(invoice, dovecot, settings):
    # given: a folder read once
    settings.IMAP_URL = dovecot.url.replace("/INBOX", "/Clients")
    first, second = (reply(subject=f"M{n}", message_id=f"<m{n}@durand.fr>", body="Bien reçu") for n in (1, 2))
    dovecot.append(first, "Clients")
    dovecot.append(second, "Clients")
    inbox.inbox_poll()
    before = dovecot.uidvalidity("Clients")
    # when: the server rebuilds the folder (new UIDVALIDITY), with one more message
    with dovecot.box() as box:
        box.folder.delete("Clients")
    for raw in (first, second, reply(subject="M3", message_id="<m3@durand.fr>", body="Bien reçu")):
        dovecot.append(raw, "Clients")
    assert dovecot.uidvalidity("Clients") != before
    report = inbox.inbox_poll()
    # then
    assert report.folders[0].rescanned
    assert (report.folders[0].stored, report.folders[0].duplicates) == (1, 2)
    assert InboundMessage.objects.count() == 3


def test_messages_are_left_unread_and_a_message_in_two_folders_is_stored_once(invoice, dovecot, settings):
    settings.IMAP_FOLDERS = ["Archive"]
    raw = reply(subject="Q", message_id="<same@durand.fr>", body="Bien reçu")
    dovecot.append(raw)
    dovecot.append(raw, "Archive")
    inbox.inbox_poll()
    assert InboundMessage.objects.count() == 1
    assert dovecot.unseen() == 1


def latin1_labelled_utf8() -> bytes:
    return (
        b"From: compta@durand.fr\r\nSubject: RE: facture\r\nMessage-ID: <latin@durand.fr>\r\n"
        b"Date: Tue, 04 Mar 2025 10:00:00 +0100\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + "Le montant réclamé est erroné.".encode("latin-1")
    )


def broken_multipart() -> bytes:
    return (
        b"From: compta@durand.fr\r\nSubject: RE: facture\r\nMessage-ID: <broken@durand.fr>\r\n"
        b"Date: Tue, 04 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\r\n\r\n'
        b"--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMerci, c'est note.\r\n"
        b"--XYZ\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n%%%not base64"
    )


def html_only() -> bytes:
    return (
        b"From: compta@durand.fr\r\nSubject: RE: facture\r\nMessage-ID: <html@durand.fr>\r\n"
        b"Date: Tue, 04 Mar 2025 10:00:00 +0100\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + "<html><body><p>Le virement a été effectué ce matin.</p><blockquote>Mise en demeure</blockquote>"
        "</body></html>".encode()
    )


def huge_attachment(size: int) -> bytes:
    data = base64.encodebytes(b"\x00" * size)
    return (
        b"From: compta@durand.fr\r\nSubject: RE: facture\r\nMessage-ID: <huge@durand.fr>\r\n"
        b"Date: Tue, 04 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Voici l'avis de virement du paiement effectue.\r\n"
        b'--B\r\nContent-Type: application/pdf; name="preuve.pdf"\r\nContent-Disposition: attachment; '
        b'filename="preuve.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + data + b"\r\n--B--\r\n"
    )


def test_malformed_messages_are_stored_flagged_and_never_block_the_others(invoice, dovecot, settings):
    settings.IMAP_MAX_MESSAGE_BYTES = 200_000
    dovecot.append(broken_multipart())
    dovecot.append(
        reply(subject="Charset", message_id="<cs@durand.fr>", body="Bien reçu", charset="x-unknown-8bit")
    )
    dovecot.append(latin1_labelled_utf8())
    dovecot.append(
        b"From: compta@durand.fr\r\nSubject: sans id\r\nDate: n'importe quoi\r\n\r\nBien recu merci\r\n"
    )
    dovecot.append(html_only())
    dovecot.append(huge_attachment(1_000_000))
    dovecot.append(
        reply(
            subject="Dernier",
            message_id="<last@durand.fr>",
            sender="compta@durand.fr",
            body="Pouvez-vous m'envoyer le RIB ?",
        )
    )
    # when
    report = inbox.inbox_poll()
    # then: all seven stored, the last one acted on normally
    assert report.folders[0].stored == 7
    assert report.folders[0].errors == 0
    by_id = {m.message_id: m for m in InboundMessage.objects.all()}
    assert Flag.MIME_DEFECTS in by_id["<broken@durand.fr>"].flags or by_id["<broken@durand.fr>"].malformed
    assert Flag.BAD_CHARSET in by_id["<cs@durand.fr>"].flags
    latin = by_id["<latin@durand.fr>"]
    assert latin.text == "Le montant réclamé est erroné."
    assert latin.category == "dispute"
    [no_id] = [m for m in by_id.values() if m.message_id.startswith("<sans-id-")]
    assert {Flag.NO_MESSAGE_ID, Flag.BAD_DATE} <= set(no_id.flags)
    html = by_id["<html@durand.fr>"]
    assert Flag.HTML_ONLY in html.flags
    assert html.category == "payment"
    huge = by_id["<huge@durand.fr>"]
    assert Flag.TOO_LARGE in huge.flags
    assert huge.size > 1_000_000
    assert huge.category == "payment"
    assert by_id["<last@durand.fr>"].action == Action.TODO
    assert InboxState.objects.get().last_uid == by_id["<last@durand.fr>"].uid


def test_a_message_that_breaks_the_processing_is_kept_with_the_error(invoice, dovecot, monkeypatch):
    real_link = inbox.link

    def fragile(parsed, **kwargs):
        if parsed.subject == "boom":
            raise ValueError("le lien a cassé")
        return real_link(parsed, **kwargs)

    monkeypatch.setattr(inbox, "link", fragile)
    dovecot.append(
        reply(subject="boom", message_id="<boom@durand.fr>", sender="compta@durand.fr", body="Bien reçu")
    )
    dovecot.append(
        reply(subject="après", message_id="<after@durand.fr>", sender="compta@durand.fr", body="Bien reçu")
    )
    report = inbox.inbox_poll()
    assert report.folders[0].errors == 1
    broken = InboundMessage.objects.get(message_id="<boom@durand.fr>")
    assert broken.action == Action.FAILED
    assert "ValueError: le lien a cassé" in broken.action_note
    assert InboundMessage.objects.get(message_id="<after@durand.fr>").action == Action.ACK


def test_our_own_messages_are_ignored(invoice, dovecot):
    dovecot.append(reply(subject="copie", sender="facturation@syaga.fr", body="Nous contestons"))
    inbox.inbox_poll()
    message = InboundMessage.objects.get()
    assert (message.action, message.category) == (Action.IGNORED, "")
    assert not Dispute.objects.exists()


def test_poll_inbox_reports_and_a_bad_url_is_named(invoice, dovecot, settings):
    dovecot.append(reply(subject="Q", body="Bien reçu"))
    out = StringIO()
    call_command("poll_inbox", stdout=out)
    assert "INBOX : 1 nouveau(x)" in out.getvalue()
    settings.IMAP_URL = "pop3://x@y/INBOX"
    with pytest.raises(CommandError, match="schéma « pop3 » inconnu"):
        call_command("poll_inbox")


def test_a_missing_folder_does_not_stop_the_others(invoice, dovecot, settings):
    settings.IMAP_FOLDERS = ["NExistePas"]
    dovecot.append(reply(subject="Q", sender="compta@durand.fr", body="Bien reçu"))
    report = inbox.inbox_poll()
    assert report.folders[0].stored == 1
    assert report.folders[1].skipped.startswith("dossier illisible")
