"""Acting on a classified reply, and the people's decisions that follow (disputes, delays, to-dos).

* ``dispute``: a Dispute is opened on the invoice (or the complaint joins the one in progress), the invoice's
  dispute flag is set through the lifecycle (dunning pauses), and the firm is alerted at once when the
  urgency is 4 or 5 (the others go in the daily report);
* ``payment``: a payment promise for the date the client gives (7 days by default) through the lifecycle;
  the bank matching confirms it later;
* ``delay``: a request waiting for a person's decision; granting it sets the invoice's delay through the
  lifecycle;
* ``question``: a to-do; ``ack``: the invoice is marked received by the client; ``auto_reply``: nothing.

A reply that cannot be tied to an invoice becomes a to-do ("à rattacher"). An action the lifecycle refuses
(a promise on a paid invoice) is noted on the message and becomes a to-do: it never stops the inbox.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from invoicing.models import Invoice, SellerProfile
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.services import lifecycle
from mailbox.classifier import Verdict, dispute_details, fold
from mailbox.classifier.dates import promised_date, requested_date
from mailbox.models import (
    DelayRequest,
    DelayStatus,
    Dispute,
    DisputeStatus,
    InboundMessage,
    ReplyCategory,
    Todo,
)
from mailbox.models.inbound import Action, LinkMethod
from mailbox.services.sending import mail_send
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur

log = logging.getLogger(__name__)
URGENT = 4


def alert_recipients() -> list[str]:
    if settings.MAIL_ALERT_TO:
        return list(settings.MAIL_ALERT_TO)
    seller = SellerProfile.current()
    return [seller.email] if seller and seller.email else []


def _todo(message: InboundMessage, title: str) -> Todo:
    return Todo.objects.create(
        title=title[:300], invoice=message.invoice, client=message.client, message=message
    )


def _excerpt(text: str, size: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


def reply_act(*, message: InboundMessage, verdict: Verdict, now: dt.datetime | None = None) -> InboundMessage:
    """Do what the reply's category calls for; the outcome is written on the message (action, note)."""
    now = now or timezone.now()
    category = message.final_category
    try:
        with transaction.atomic():
            action, note = _act(message, category, verdict, now)
    except BusinessError as exc:
        action, note = Action.FAILED, str(exc)
        _todo(message, f"À traiter : {message.subject or message.from_email} ({exc})")
    message.action, message.action_note = action, note[:2000]
    message.save(update_fields=["action", "action_note"])
    return message


def _act(message: InboundMessage, category: str, verdict: Verdict, now: dt.datetime) -> tuple[str, str]:
    if category == ReplyCategory.AUTO_REPLY:
        return Action.IGNORED, "réponse automatique"
    invoice = message.invoice
    label = ReplyCategory(category).label if category in ReplyCategory.values else category
    if invoice is None:
        _todo(message, f"Rattacher à une facture : {label} de {message.from_email} « {message.subject} »")
        if category == ReplyCategory.DISPUTE and (verdict.urgency or 0) >= URGENT:
            _alert_unlinked(message, verdict)
        return Action.TO_LINK, "aucune facture reconnue"
    if category == ReplyCategory.DISPUTE:
        return _dispute(message, invoice, verdict, now)
    if category == ReplyCategory.PAYMENT:
        return _promise(message, invoice, now)
    if category == ReplyCategory.DELAY:
        until = requested_date(fold(message.new_text), today=timezone.localdate(now))
        DelayRequest.objects.create(
            invoice=invoice, message=message, requested_until=until, summary=_excerpt(message.new_text, 2000)
        )
        return Action.DELAY, f"jusqu'au {until:%d/%m/%Y}" if until else "date non précisée"
    if category == ReplyCategory.QUESTION:
        _todo(
            message,
            f"Répondre à {message.from_name or message.from_email} : {_excerpt(message.new_text, 200)}",
        )
        return Action.TODO, ""
    if category == ReplyCategory.ACK:
        lifecycle.invoice_acknowledged_record(
            invoice=invoice, at=message.sent_at or now, reason=f"e-mail de {message.from_email}"
        )
        return Action.ACK, ""
    return Action.NONE, ""


def _dispute(
    message: InboundMessage, invoice: Invoice, verdict: Verdict, now: dt.datetime
) -> tuple[str, str]:
    urgency = verdict.urgency or 3
    if invoice.kind != Kind.INVOICE or invoice.status not in OPEN_STATUSES:
        _todo(
            message,
            f"Contestation sur {invoice} ({invoice.get_status_display()}) : "
            f"{_excerpt(message.new_text, 150)}",
        )
        if urgency >= URGENT:
            _alert_unlinked(message, verdict)
        return Action.TODO, f"{invoice} n'est pas à encaisser : pas de litige ouvert"
    current = (
        Dispute.objects.select_for_update()
        .filter(invoice=invoice)
        .exclude(state=DisputeStatus.RESOLVED)
        .first()
    )
    if current is not None:
        raised = urgency > current.urgency
        if raised:
            current.urgency = urgency
            current.save(update_fields=["urgency"])
        if raised and urgency >= URGENT and current.alerted_at is None:
            _alert(current, message)
        return Action.DISPUTE_JOINED, f"litige #{current.pk}"
    dispute = Dispute.objects.create(
        invoice=invoice,
        client=invoice.client,
        message=message,
        type=verdict.dispute_type or "other",
        urgency=urgency,
        summary=_excerpt(message.new_text, 4000),
        amount_at_stake=invoice.total_ttc - invoice.amount_paid,
        opened_at=now,
    )
    if invoice.disputed_since is None:
        lifecycle.invoice_dispute_open(
            invoice=invoice,
            reason=f"contestation par e-mail de {message.from_email} : {_excerpt(message.new_text, 200)}",
        )
    if urgency >= URGENT:
        _alert(dispute, message)
    return Action.DISPUTE, f"litige #{dispute.pk}, urgence {urgency}"


def _promise(message: InboundMessage, invoice: Invoice, now: dt.datetime) -> tuple[str, str]:
    if invoice.kind != Kind.INVOICE or invoice.status not in OPEN_STATUSES:
        return Action.IGNORED, f"{invoice} n'est plus à encaisser ({invoice.get_status_display()})"
    day = promised_date(
        fold(message.new_text), today=timezone.localdate(now), default_days=settings.MAIL_PROMISE_DEFAULT_DAYS
    )
    lifecycle.invoice_payment_promise_record(
        invoice=invoice, promised_for=day, reason=f"e-mail de {message.from_email}"
    )
    return Action.PROMISE, f"pour le {day:%d/%m/%Y}"


def _alert(dispute: Dispute, message: InboundMessage) -> None:
    """An urgent dispute: one e-mail to the firm now (after commit), once per dispute."""
    invoice = dispute.invoice
    body = (
        f"Litige urgent (urgence {dispute.urgency}/5) sur la {invoice} de {invoice.client}, "
        f"{format_eur(dispute.amount_at_stake)} en jeu.\n\n"
        f"Type : {dispute.get_type_display()}\nDe : {message.from_name} <{message.from_email}>\n"
        f"Objet : {message.subject}\n\n{message.new_text}\n"
    )
    mail_send(
        to=alert_recipients(),
        subject=f"[Litige urgent] {invoice} – {invoice.client}",
        body=body,
        key=f"dispute-alert:{dispute.pk}",
    )
    dispute.alerted_at = timezone.now()
    dispute.save(update_fields=["alerted_at"])


def _alert_unlinked(message: InboundMessage, verdict: Verdict) -> None:
    mail_send(
        to=alert_recipients(),
        subject=f"[Litige urgent] e-mail de {message.from_email} à rattacher",
        body=(
            f"Contestation urgente (urgence {verdict.urgency}/5) reçue de {message.from_name} "
            f"<{message.from_email}>, sans facture à encaisser reconnue.\n\nObjet : {message.subject}\n\n"
            f"{message.new_text}\n"
        ),
        key=f"message-alert:{message.pk}",
    )


# --- corrections --------------------------------------------------------------------------------------------


def inbound_correct(*, message: InboundMessage, category: str, actor) -> InboundMessage:
    """A person gives the right category. The classifier learns it; when nothing was done yet for that one
    (a dispute taken for an acknowledgement), it is done now."""
    if category not in ReplyCategory.values:
        raise BusinessError(f"catégorie « {category} » inconnue")
    previous = message.final_category
    message.corrected_category = category
    message.corrected_by = actor if getattr(actor, "pk", None) else None
    message.corrected_at = timezone.now()
    message.save(update_fields=["corrected_category", "corrected_by", "corrected_at"])
    if category != previous:
        reply_act(message=message, verdict=_verdict_for(message, category))
    return message


def _verdict_for(message: InboundMessage, category: str) -> Verdict:
    """A person's category, with the urgency and type read from the text when it is a dispute."""
    verdict = Verdict(category)
    if category == ReplyCategory.DISPUTE:
        urgency, kind = dispute_details(message.new_text or message.text)
        verdict.urgency, verdict.dispute_type = message.urgency or urgency, kind
    return verdict


def inbound_link(*, message: InboundMessage, invoice: Invoice | None, actor) -> InboundMessage:
    """A person ties a reply to its invoice; a reply that waited for it ("à rattacher") is acted on now."""
    waiting = message.action in (Action.TO_LINK, Action.NONE, "")
    message.invoice = invoice
    message.client = invoice.client if invoice is not None else message.client
    message.link_method = LinkMethod.MANUAL if invoice is not None else LinkMethod.NONE
    message.save(update_fields=["invoice", "client", "link_method"])
    if invoice is not None and waiting:
        reply_act(message=message, verdict=_verdict_for(message, message.final_category))
    return message


# --- disputes -----------------------------------------------------------------------------------------------


def dispute_start(*, dispute: Dispute, actor) -> Dispute:
    """open → in progress: someone handles it."""
    done = Dispute.objects.filter(pk=dispute.pk, state=DisputeStatus.OPEN).update(
        state=DisputeStatus.IN_PROGRESS, started_at=timezone.now()
    )
    if not done:
        raise BusinessError(f"{dispute} n'est pas ouvert")
    dispute.refresh_from_db()
    return dispute


def dispute_resolve(*, dispute: Dispute, note: str, actor) -> Dispute:
    """open or in progress → resolved, with what was decided; the invoice's dunning resumes."""
    note = (note or "").strip()
    if not note:
        raise BusinessError("un litige se clôt avec une note de résolution")
    with transaction.atomic():
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if locked.state == DisputeStatus.RESOLVED:
            raise BusinessError(f"{locked} est déjà résolu")
        now = timezone.now()
        Dispute.objects.filter(pk=locked.pk).update(
            state=DisputeStatus.RESOLVED,
            resolved_at=now,
            resolved_by=actor if getattr(actor, "pk", None) else None,
            resolution_note=note,
            started_at=locked.started_at or now,
        )
        invoice = Invoice.objects.get(pk=locked.invoice_id)
        if invoice.disputed_since is not None:
            lifecycle.invoice_dispute_close(
                invoice=invoice, reason=f"litige résolu : {note[:250]}", actor=actor
            )
    dispute.refresh_from_db()
    return dispute


# --- delays -------------------------------------------------------------------------------------------------


def delay_grant(*, request: DelayRequest, until: dt.date, actor, note: str = "") -> DelayRequest:
    if until is None:
        raise BusinessError("un délai s'accorde jusqu'à une date")
    with transaction.atomic():
        locked = DelayRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state != DelayStatus.PENDING:
            raise BusinessError(f"{locked} est déjà décidée")
        lifecycle.invoice_delay_grant(invoice=locked.invoice, until=until, reason=note, actor=actor)
        DelayRequest.objects.filter(pk=locked.pk).update(
            state=DelayStatus.GRANTED,
            granted_until=until,
            decided_at=timezone.now(),
            decided_by=actor if getattr(actor, "pk", None) else None,
            decision_note=note,
        )
    request.refresh_from_db()
    return request


def delay_refuse(*, request: DelayRequest, actor, note: str = "") -> DelayRequest:
    done = DelayRequest.objects.filter(pk=request.pk, state=DelayStatus.PENDING).update(
        state=DelayStatus.REFUSED,
        decided_at=timezone.now(),
        decided_by=actor if getattr(actor, "pk", None) else None,
        decision_note=note,
    )
    if not done:
        raise BusinessError(f"{request} est déjà décidée")
    request.refresh_from_db()
    return request


def todo_done(*, todo: Todo, actor) -> Todo:
    Todo.objects.filter(pk=todo.pk, done=False).update(
        done=True, done_at=timezone.now(), done_by=actor if getattr(actor, "pk", None) else None
    )
    todo.refresh_from_db()
    return todo
