"""The mailbox app's tables: what we send (templates, the outbox and its attempts), what we receive (the
inbox, its progress markers) and what the replies lead to (disputes, delay requests, the to-do list)."""

from mailbox.models.inbound import InboundMessage, InboxState, ReplyCategory
from mailbox.models.outbound import (
    MailTemplate,
    OutboundMessage,
    OutboundStatus,
    Purpose,
    SendAttempt,
    TemplateKind,
)
from mailbox.models.replies import DelayRequest, DelayStatus, Dispute, DisputeStatus, DisputeType, Todo

__all__ = [
    "DelayRequest",
    "DelayStatus",
    "Dispute",
    "DisputeStatus",
    "DisputeType",
    "InboundMessage",
    "InboxState",
    "MailTemplate",
    "OutboundMessage",
    "OutboundStatus",
    "Purpose",
    "ReplyCategory",
    "SendAttempt",
    "TemplateKind",
    "Todo",
]
