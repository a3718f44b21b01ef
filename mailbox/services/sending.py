"""Sending: the outbox, its retries, and what a sent invoice records.

Every e-mail is first a row (:class:`OutboundMessage`) whose ``dedupe_key`` says what it is for; queueing the
same thing twice finds the row and adds nothing, so a job that runs twice sends once. The row is then
*claimed* by a compare-and-set UPDATE (queued → sending, with a lease): two workers never hold the same row.
Just before the SMTP conversation the row records ``smtp_started_at``; after it, the result, in its own
commit. If the process dies in between, the row is left "sending" with an expired lease:

* without ``smtp_started_at`` nothing reached the server: the message goes back to the queue;
* with it, the server may have accepted the message: it is never sent again by itself (a duplicate invoice
  or reminder in the client's mailbox is worse than a delay) and becomes "à vérifier" for a person, who
  either confirms it left or sends it again from the admin.

A failed send is retried after ``MAIL_RETRY_MINUTES`` (5 min, 15 min, 1 h, 4 h, 12 h), then given up and
reported; it never marks the invoice as sent. A successful one marks it through the lifecycle
(``invoice_mark_sent``: issued → sent, later sends recorded without a move), after the send is committed, and
a run that died before that records it on its next pass (``recorded_on_invoice``).
"""

import contextlib
import datetime as dt
import html
import logging
import secrets
from dataclasses import dataclass, field
from email.utils import format_datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from invoicing.documents.pdf import invoice_pdf_ensure
from invoicing.models import Invoice
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Origin, Status
from invoicing.services import lifecycle
from mailbox.defaults import TEMPLATES
from mailbox.models import MailTemplate, OutboundMessage, OutboundStatus, Purpose, SendAttempt
from mailbox.services.rendering import invoice_context, render, template_kind_for
from syaga.core.errors import BusinessError

log = logging.getLogger(__name__)
S = OutboundStatus


@dataclass
class FlushReport:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    uncertain: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)

    def __str__(self):
        return (
            f"{len(self.sent)} envoyé(s), {len(self.retried)} à réessayer, {len(self.failed)} abandonné(s), "
            f"{len(self.uncertain)} à vérifier"
        )


@dataclass
class SendReport:
    queued: list[OutboundMessage] = field(default_factory=list)
    refused: list[tuple[Invoice, str]] = field(default_factory=list)
    flush: FlushReport = field(default_factory=FlushReport)

    def __str__(self):
        return f"{len(self.queued)} e-mail(s) en file, {len(self.refused)} refusé(s) ; {self.flush}"


# --- identity -----------------------------------------------------------------------------------------------


def message_id_for(invoice: Invoice, sequence: int) -> str:
    """``<invoice-F20250012.1@domain>``: the first message about an invoice is .1, its first reminder .2…"""
    return f"<invoice-{invoice.number}.{sequence}@{settings.MAIL_MESSAGE_ID_DOMAIN}>"


def internal_message_id() -> str:
    return f"<syaga-{secrets.token_hex(12)}@{settings.MAIL_MESSAGE_ID_DOMAIN}>"


def pdf_filename(invoice: Invoice) -> str:
    return f"{'Avoir' if invoice.kind == Kind.CREDIT_NOTE else 'Facture'}-{invoice.number}.pdf"


def recipients_for(invoice: Invoice) -> list[str]:
    """The client's billing addresses today (a bounced address is fixed on the client), else those frozen at
    issue."""
    return invoice.client.email_list or list((invoice.buyer_snapshot or {}).get("emails") or [])


# --- queueing -----------------------------------------------------------------------------------------------


def _queue(
    *,
    dedupe_key: str,
    invoice: Invoice | None,
    purpose: str,
    to: list[str],
    subject: str,
    body: str,
    level: int = 0,
    cc: list[str] | tuple = (),
    attach_pdf: bool = False,
    actor=None,
    now: dt.datetime | None = None,
) -> tuple[OutboundMessage, bool]:
    """The row for ``dedupe_key``, created when missing. Returns (row, created)."""
    existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    now = now or timezone.now()
    for _ in range(3):
        try:
            with transaction.atomic():
                references = ""
                if invoice is not None:
                    previous = OutboundMessage.objects.filter(invoice=invoice)
                    sequence = (previous.aggregate(n=Max("sequence"))["n"] or 0) + 1
                    message_id = message_id_for(invoice, sequence)
                    first = previous.order_by("sequence").values_list("message_id", flat=True).first()
                    references = first or ""
                else:
                    sequence, message_id = 0, internal_message_id()
                tracking = (
                    secrets.token_urlsafe(32)
                    if settings.MAIL_OPEN_TRACKING and settings.MAIL_PUBLIC_URL and invoice is not None
                    else None
                )
                row = OutboundMessage.objects.create(
                    invoice=invoice,
                    purpose=purpose,
                    level=level,
                    sequence=sequence,
                    dedupe_key=dedupe_key,
                    message_id=message_id,
                    references=references,
                    to=", ".join(to),
                    cc=", ".join(cc),
                    subject=subject[:300],
                    body=body,
                    attach_pdf=attach_pdf,
                    next_attempt_at=now,
                    tracking_token=tracking,
                    created_at=now,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
            return row, True
        except IntegrityError:
            # Another worker queued the same thing (dedupe key) or took the same sequence: look again.
            existing = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
            if existing is not None:
                return existing, False
    raise BusinessError(f"file d'envoi : impossible de réserver un Message-ID pour {invoice}")


def templates_ensure() -> None:
    """Write back the default text of any template kind that has no row (never touches an edited one)."""
    missing = set(TEMPLATES) - set(MailTemplate.objects.values_list("kind", flat=True))
    for kind in sorted(missing):
        subject, days, body = TEMPLATES[kind]
        MailTemplate.objects.get_or_create(
            kind=kind, defaults={"subject": subject, "body": body, "days_after_due": days, "active": True}
        )


def _template(kind: str) -> MailTemplate:
    template = MailTemplate.objects.filter(kind=kind).first()
    if template is None:
        templates_ensure()
        template = MailTemplate.objects.get(kind=kind)
    return template


def invoice_send_queue(*, invoice: Invoice, actor=None, now: dt.datetime | None = None) -> OutboundMessage:
    """Queue the e-mail that delivers an issued invoice or credit note (once: a second call finds the row)."""
    key = f"invoice:{invoice.pk}:send"
    existing = OutboundMessage.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing
    if invoice.status not in FROZEN_STATUSES or not invoice.number:
        raise BusinessError(f"{invoice} n'est pas émise : rien à envoyer")
    if invoice.status == Status.CANCELLED:
        raise BusinessError(f"{invoice} est annulée : elle n'est pas envoyée")
    to = recipients_for(invoice)
    if not to:
        raise BusinessError(f"{invoice} : le client {invoice.client} n'a pas d'e-mail de facturation")
    subject, body = render(_template(template_kind_for(invoice)), invoice_context(invoice))
    row, _ = _queue(
        dedupe_key=key,
        invoice=invoice,
        purpose=Purpose.INVOICE,
        to=to,
        subject=subject,
        body=body,
        attach_pdf=True,
        actor=actor,
        now=now,
    )
    return row


def invoice_resend(*, invoice: Invoice, actor, now: dt.datetime | None = None) -> OutboundMessage:
    """A person sends the document again (lost e-mail, new address): a new message, a new Message-ID."""
    count = OutboundMessage.objects.filter(invoice=invoice, purpose=Purpose.RESEND).count()
    to = recipients_for(invoice)
    if not to:
        raise BusinessError(f"{invoice} : le client {invoice.client} n'a pas d'e-mail de facturation")
    subject, body = render(_template(template_kind_for(invoice)), invoice_context(invoice))
    row, _ = _queue(
        dedupe_key=f"invoice:{invoice.pk}:resend:{count + 1}",
        invoice=invoice,
        purpose=Purpose.RESEND,
        to=to,
        subject=subject,
        body=body,
        attach_pdf=True,
        actor=actor,
        now=now,
    )
    return row


def mail_send(
    *,
    to: list[str],
    subject: str,
    body: str,
    key: str | None = None,
    cc: list[str] | tuple = (),
    now: dt.datetime | None = None,
) -> OutboundMessage:
    """A message to the firm (alerts, reports, coaching reminders): queued, then sent after the caller's
    transaction commits, with the same log and retries as invoices. ``key`` makes it idempotent: the same
    key is sent once."""
    to = [address for address in to if address]
    if not to:
        raise BusinessError("message interne sans destinataire (MAIL_ALERT_TO ou e-mail du profil vendeur)")
    row, created = _queue(
        dedupe_key=f"internal:{key}" if key else f"internal:{secrets.token_hex(12)}",
        invoice=None,
        purpose=Purpose.INTERNAL,
        to=to,
        subject=subject,
        body=body,
        cc=cc,
        now=now,
    )
    if created:
        ids = [row.pk]
        transaction.on_commit(lambda: outbox_flush(ids=ids))
    return row


def invoices_send(*, invoice_ids: list[int], actor=None) -> SendReport:
    """Queue and send the e-mails of these issued documents (what follows an issue)."""
    report = SendReport()
    invoices = Invoice.objects.filter(pk__in=invoice_ids).select_related("client", "credited_invoice")
    for invoice in invoices.order_by("pk"):
        try:
            report.queued.append(invoice_send_queue(invoice=invoice, actor=actor))
        except BusinessError as exc:
            report.refused.append((invoice, str(exc)))
            log.warning("envoi refusé : %s", exc)
    report.flush = outbox_flush(ids=[row.pk for row in report.queued])
    return report


def invoices_unsent(*, now: dt.datetime | None = None):
    """Issued documents that no e-mail delivered yet, dated (and issued) in the last MAIL_SEND_MAX_AGE_DAYS
    days, never the imported history: the daily cycle's list. The printed issue date counts: an invoice
    recorded today with a date months ago (a catch-up, the demo's year) is not e-mailed as if new."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=settings.MAIL_SEND_MAX_AGE_DAYS)
    return (
        Invoice.objects.filter(
            status=Status.ISSUED, issued_at__gte=since, issue_date__gte=timezone.localdate(since)
        )
        .exclude(origin=Origin.IMPORTED)
        .filter(Q(kind=Kind.CREDIT_NOTE) | Q(sent_at__isnull=True))
        .exclude(mail_messages__purpose=Purpose.INVOICE)
        .order_by("pk")
    )


def invoices_send_new(*, invoice_ids: list[int], now: dt.datetime | None = None) -> SendReport:
    """What follows an issue: e-mail those of these documents that are new by the daily list's rule
    (:func:`invoices_unsent`). A backdated catch-up (the demo's year, an invoice dated months ago) or a
    document already marked as sent is not e-mailed as if it had just been issued."""
    ids = list(invoices_unsent(now=now).filter(pk__in=invoice_ids).values_list("pk", flat=True))
    return invoices_send(invoice_ids=ids)


def invoices_send_pending(*, now: dt.datetime | None = None) -> SendReport:
    """The daily cycle's step: every issued document not e-mailed yet is queued and sent. Idempotent."""
    ids = list(invoices_unsent(now=now).values_list("pk", flat=True))
    report = invoices_send(invoice_ids=ids)
    # Retries that came due, and sends whose invoice record was interrupted.
    extra = outbox_flush(now=now)
    for name in ("sent", "retried", "failed", "uncertain", "requeued"):
        getattr(report.flush, name).extend(getattr(extra, name))
    return report


# --- the SMTP side ------------------------------------------------------------------------------------------


def _html(row: OutboundMessage) -> str:
    paragraphs = "".join(
        f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in row.body.strip().split("\n\n")
    )
    pixel = ""
    if row.tracking_token and settings.MAIL_PUBLIC_URL:
        url = f"{settings.MAIL_PUBLIC_URL.rstrip('/')}/m/o/{row.tracking_token}.gif"
        pixel = f'<img src="{url}" width="1" height="1" alt="" style="display:block;border:0">'
    head = '<!doctype html><html lang="fr"><body style="font-family:sans-serif">'
    return f"{head}{paragraphs}{pixel}</body></html>"


def build_email(row: OutboundMessage, *, connection=None) -> EmailMultiAlternatives:
    # Paris time with its offset (+0100, +0200 in summer), as a person's mail client writes it; Django's
    # default is UTC written « -0000 », which says the sender's zone is unknown.
    headers = {"Message-ID": row.message_id, "Date": format_datetime(timezone.localtime())}
    if row.references:
        headers["In-Reply-To"] = row.references
        headers["References"] = row.references
    reply_to = [settings.MAIL_REPLY_TO] if settings.MAIL_REPLY_TO else None
    email = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=row.recipients,
        cc=row.cc_list,
        reply_to=reply_to,
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(_html(row), "text/html")
    if row.attach_pdf and row.invoice is not None:
        path = invoice_pdf_ensure(row.invoice)
        email.attach(pdf_filename(row.invoice), path.read_bytes(), "application/pdf")
    return email


def _backoff(attempts: int) -> dt.timedelta | None:
    """The wait before the next try after ``attempts`` failed ones; None: give up."""
    delays = settings.MAIL_RETRY_MINUTES
    if attempts > len(delays):
        return None
    return dt.timedelta(minutes=delays[attempts - 1])


def _recover(now: dt.datetime, report: FlushReport, ids=None) -> None:
    """Rows left "sending" by a run that died: back to the queue if SMTP never started, else to a person."""
    stale = OutboundMessage.objects.filter(state=S.SENDING, lease_until__lt=now)
    if ids is not None:
        stale = stale.filter(pk__in=ids)
    for row in stale:
        if row.smtp_started_at is None:
            done = OutboundMessage.objects.filter(
                pk=row.pk, state=S.SENDING, lease_until=row.lease_until
            ).update(state=S.QUEUED, lease_until=None, next_attempt_at=now)
            if done:
                report.requeued.append(row.pk)
        else:
            done = OutboundMessage.objects.filter(
                pk=row.pk, state=S.SENDING, lease_until=row.lease_until
            ).update(
                state=S.UNCERTAIN,
                lease_until=None,
                last_error=(
                    f"envoi interrompu le {timezone.localtime(row.smtp_started_at):%d/%m/%Y %H:%M} pendant "
                    "l'échange avec le serveur : il a pu partir. Vérifiez puis « confirmer l'envoi » ou "
                    "« renvoyer »."
                ),
            )
            if done:
                report.uncertain.append(row.pk)
                log.error("e-mail %s : envoi interrompu, à vérifier", row.message_id)


def _claim(row_id: int, now: dt.datetime) -> bool:
    lease = now + dt.timedelta(seconds=settings.MAIL_SEND_LEASE_SECONDS)
    return bool(
        OutboundMessage.objects.filter(pk=row_id, state=S.QUEUED).update(
            state=S.SENDING, lease_until=lease, smtp_started_at=None
        )
    )


def _attempt(row: OutboundMessage, *, ok: bool, result: str, now: dt.datetime) -> None:
    SendAttempt.objects.create(message=row, at=now, ok=ok, result=result[:2000])


# What the history says of a document e-mailed, then e-mailed again.
SENT_LABELS = {
    Kind.INVOICE: ("facture envoyée", "facture renvoyée"),
    Kind.CREDIT_NOTE: ("avoir envoyé", "avoir renvoyé"),
}


def _record_on_invoice(row: OutboundMessage) -> None:
    """The document's history says it was sent (issued → sent the first time, invoice or credit note)."""
    if row.invoice_id is None or row.recorded_on_invoice:
        return
    invoice = row.invoice
    note = ""
    sent, resent = SENT_LABELS[invoice.kind]
    label = {
        Purpose.INVOICE: sent,
        Purpose.RESEND: resent,
        Purpose.REMINDER: f"relance niveau {row.level} envoyée",
    }.get(row.purpose, "e-mail envoyé")
    try:
        lifecycle.invoice_mark_sent(
            invoice=invoice, at=row.sent_at, reason=f"{label} à {row.to} ({row.message_id})"
        )
    except BusinessError as exc:
        # Sent it was: the log keeps the truth even when the invoice moved meanwhile (cancelled).
        note = f"historique de la facture non mis à jour : {exc}"
    OutboundMessage.objects.filter(pk=row.pk).update(
        recorded_on_invoice=True, **({"last_error": note} if note else {})
    )


def _send_one(row: OutboundMessage, connection, now: dt.datetime, report: FlushReport) -> None:
    try:
        email = build_email(row, connection=connection)
    except Exception as exc:
        _failed(row, f"préparation : {type(exc).__name__}: {exc}", now, report)
        return
    OutboundMessage.objects.filter(pk=row.pk).update(smtp_started_at=timezone.now())
    try:
        sent = connection.send_messages([email])
        if not sent:
            raise RuntimeError("le serveur n'a accepté aucun destinataire")
    except Exception as exc:
        with contextlib.suppress(Exception):  # the connection is being dropped anyway
            connection.close()
        _failed(row, f"{type(exc).__name__}: {exc}", now, report)
        return
    response = (getattr(connection, "last_response", "") or "250 accepté")[:500]
    at = timezone.now()
    with transaction.atomic():
        OutboundMessage.objects.filter(pk=row.pk).update(
            state=S.SENT,
            sent_at=at,
            attempts=row.attempts + 1,
            smtp_response=response,
            lease_until=None,
            last_error="",
        )
        _attempt(row, ok=True, result=response, now=at)
    row.refresh_from_db()
    report.sent.append(row.pk)
    _record_on_invoice(row)


def _failed(row: OutboundMessage, error: str, now: dt.datetime, report: FlushReport) -> None:
    attempts = row.attempts + 1
    wait = _backoff(attempts)
    with transaction.atomic():
        if wait is None:
            OutboundMessage.objects.filter(pk=row.pk).update(
                state=S.FAILED, attempts=attempts, last_error=error, lease_until=None, smtp_started_at=None
            )
            report.failed.append(row.pk)
        else:
            OutboundMessage.objects.filter(pk=row.pk).update(
                state=S.QUEUED,
                attempts=attempts,
                last_error=error,
                lease_until=None,
                smtp_started_at=None,
                next_attempt_at=now + wait,
            )
            report.retried.append(row.pk)
        _attempt(row, ok=False, result=error, now=now)
    log.warning("e-mail %s : échec (%s), tentative %s", row.message_id, error, attempts)


def outbox_flush(
    *, now: dt.datetime | None = None, ids: list[int] | None = None, limit: int = 200
) -> FlushReport:
    """Send what is due in the outbox (or only ``ids``), one claimed row at a time, on one SMTP connection."""
    now = now or timezone.now()
    report = FlushReport()
    _recover(now, report, ids)
    due = OutboundMessage.objects.filter(state=S.QUEUED, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    rows = list(due.select_related("invoice", "invoice__client").order_by("next_attempt_at", "pk")[:limit])
    if rows:
        connection = get_connection(fail_silently=False)
        try:
            for row in rows:
                if _claim(row.pk, now):
                    _send_one(row, connection, now, report)
        finally:
            with contextlib.suppress(Exception):  # closing a dead connection
                connection.close()
    unrecorded = OutboundMessage.objects.filter(
        state=S.SENT, recorded_on_invoice=False, invoice__isnull=False
    )
    for row in unrecorded.select_related("invoice"):
        _record_on_invoice(row)
    return report


# --- a person's decisions -----------------------------------------------------------------------------------


def outbound_requeue(
    *, message: OutboundMessage, actor=None, now: dt.datetime | None = None
) -> OutboundMessage:
    """Send a failed or interrupted message again (a person checked it did not arrive)."""
    now = now or timezone.now()
    done = OutboundMessage.objects.filter(pk=message.pk, state__in=(S.FAILED, S.UNCERTAIN)).update(
        state=S.QUEUED, next_attempt_at=now, lease_until=None, smtp_started_at=None
    )
    if not done:
        raise BusinessError(f"{message} n'est ni en échec ni à vérifier")
    message.refresh_from_db()
    return message


def outbound_confirm_sent(*, message: OutboundMessage, actor=None) -> OutboundMessage:
    """A person checked that an interrupted message did arrive: it counts as sent (and on the invoice)."""
    at = message.smtp_started_at or timezone.now()
    done = OutboundMessage.objects.filter(pk=message.pk, state=S.UNCERTAIN).update(
        state=S.SENT, sent_at=at, smtp_response=f"confirmé par {actor or 'une personne'}"
    )
    if not done:
        raise BusinessError(f"{message} n'est pas à vérifier")
    message.refresh_from_db()
    _record_on_invoice(message)
    message.refresh_from_db()
    return message
