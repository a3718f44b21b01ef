"""The daily report to the firm: what the inbox brought that a person must look at (the urgent disputes
were already sent on their own), and the sends that need a decision. Once a day (keyed by the date)."""

import datetime as dt

from django.utils import timezone

from mailbox.models import (
    DelayRequest,
    DelayStatus,
    Dispute,
    DisputeStatus,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    Todo,
)
from mailbox.models.inbound import Action
from mailbox.services.replies import alert_recipients
from mailbox.services.sending import mail_send
from syaga.core.money import format_eur


def daily_report_text(*, on: dt.date) -> tuple[str, list[Dispute]]:
    disputes = list(
        Dispute.objects.filter(alerted_at__isnull=True)
        .exclude(state=DisputeStatus.RESOLVED)
        .select_related("invoice", "client")
        .order_by("-urgency", "opened_at")
    )
    delays = list(
        DelayRequest.objects.filter(state=DelayStatus.PENDING).select_related("invoice", "invoice__client")
    )
    todos = list(Todo.objects.filter(done=False).order_by("created_at")[:30])
    problems = list(
        OutboundMessage.objects.filter(state__in=(OutboundStatus.FAILED, OutboundStatus.UNCERTAIN)).order_by(
            "pk"
        )
    )
    since = timezone.make_aware(dt.datetime.combine(on - dt.timedelta(days=1), dt.time.min))
    malformed = InboundMessage.objects.filter(malformed=True, received_at__gte=since).count()
    failed = InboundMessage.objects.filter(action=Action.FAILED, received_at__gte=since).count()
    lines = []
    if disputes:
        lines.append(f"Nouvelles contestations ({len(disputes)}) :")
        lines += [
            f"  - {d.invoice} ({d.client}), {d.get_type_display()}, urgence {d.urgency}, "
            f"{format_eur(d.amount_at_stake)}"
            for d in disputes
        ]
    if delays:
        lines.append(f"Demandes de délai à décider ({len(delays)}) :")
        lines += [
            f"  - {r.invoice} ({r.invoice.client})"
            + (f", jusqu'au {r.requested_until:%d/%m/%Y}" if r.requested_until else "")
            for r in delays
        ]
    if todos:
        lines.append(f"À faire ({Todo.objects.filter(done=False).count()}) :")
        lines += [f"  - {t.title}" for t in todos]
    if problems:
        lines.append(f"E-mails non partis ou à vérifier ({len(problems)}) :")
        lines += [
            f"  - {m.subject} → {m.to} : {m.get_state_display()} ({m.last_error[:120]})" for m in problems
        ]
    if malformed or failed:
        lines.append(f"E-mails reçus mal formés : {malformed}, en erreur de traitement : {failed}.")
    return "\n".join(lines), disputes


def daily_report_send(*, on: dt.date) -> OutboundMessage | None:
    """Send the day's report (once per day); nothing when there is nothing to say."""
    text, disputes = daily_report_text(on=on)
    if not text:
        return None
    message = mail_send(
        to=alert_recipients(),
        subject=f"Facturation : le courrier du {on:%d/%m/%Y}",
        body=f"Bonjour,\n\n{text}\n\nLe détail est dans l'administration, rubrique Courrier.\n",
        key=f"daily-report:{on.isoformat()}",
    )
    Dispute.objects.filter(pk__in=[d.pk for d in disputes]).update(alerted_at=timezone.now())
    return message
