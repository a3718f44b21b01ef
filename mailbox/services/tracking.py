"""Open tracking: the first request for a message's pixel stamps it as opened (later ones change nothing)."""

from django.utils import timezone

from mailbox.models import OutboundMessage


def open_record(*, token: str) -> bool:
    """True when this request was the message's first open."""
    if not token or len(token) > 64:
        return False
    return bool(
        OutboundMessage.objects.filter(tracking_token=token, opened_at__isnull=True).update(
            opened_at=timezone.now()
        )
    )
