"""The classifier with the firm's corrections: every reply a person re-labelled in the admin is an example.

The model is retrained (milliseconds) when the corrections change; between changes it is kept in memory,
keyed by the number of corrections and the latest correction time.
"""

import threading

from django.db.models import Count, Max
from django.utils import timezone

from mailbox.classifier import Example, Verdict, classify, seed_examples, train
from mailbox.models import InboundMessage

_LOCK = threading.Lock()
_CACHE: dict = {}


def corrections() -> list[Example]:
    rows = InboundMessage.objects.exclude(corrected_category="").order_by("corrected_at", "pk")
    return [
        Example(
            text=row.new_text or row.subject,
            category=row.corrected_category,
            corrected=True,
            label=f"e-mail #{row.pk} corrigé le {timezone.localtime(row.corrected_at):%d/%m/%Y}"
            if row.corrected_at
            else f"e-mail #{row.pk}",
        )
        for row in rows.only("pk", "new_text", "subject", "corrected_category", "corrected_at")
    ]


def _trained() -> tuple[list[Example], object]:
    version = InboundMessage.objects.exclude(corrected_category="").aggregate(
        n=Count("pk"), at=Max("corrected_at")
    )
    key = (version["n"], version["at"])
    with _LOCK:
        if _CACHE.get("key") != key:
            examples = corrections()
            _CACHE.update(key=key, examples=examples, model=train(seed_examples() + examples))
        return _CACHE["examples"], _CACHE["model"]


def reply_classify(
    *, subject: str = "", body: str = "", html: str = "", headers: dict | None = None
) -> Verdict:
    examples, model = _trained()
    return classify(subject=subject, body=body, html=html, headers=headers, corrections=examples, model=model)
