"""Qonto webhooks: check the signature, keep each event once, queue a re-fetch of the transaction.

``X-Qonto-Signature: t=<unix seconds>,v1=<hex>`` where hex = HMAC-SHA256(secret, "<t>." + raw body). The
payload is only a signal: its fields differ between doc renderings (amounts as numbers or strings,
``bank_account`` object or ``bank_account_id``), so the transaction is fetched again from the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from banking.clients.qonto import amount_from_api
from banking.models import WebhookEvent

log = logging.getLogger(__name__)

TOLERANCE_SECONDS = 300
TRANSACTIONS_TYPE = "v1/transactions"
REFETCH_TASK = "banking.tasks.qonto_refetch_transaction"


class WebhookSignatureError(Exception):
    """Missing, malformed, wrong or stale signature: answered 401."""


class WebhookPayloadError(Exception):
    """Body that is not JSON or not a Qonto event envelope: answered 400."""


def signature_verify(
    *,
    secret: str,
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> int:
    """Check ``X-Qonto-Signature`` against the raw body; return its timestamp or raise
    :class:`WebhookSignatureError`. Timestamps more than ``tolerance`` seconds old (or ahead) are refused."""
    if not secret:
        raise WebhookSignatureError(
            "QONTO_WEBHOOK_SECRET n'est pas renseigné : impossible de vérifier les webhooks de Qonto"
        )
    if not header:
        raise WebhookSignatureError("pas d'en-tête X-Qonto-Signature")
    timestamp, signatures = None, []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value.strip()
        elif key == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise WebhookSignatureError("X-Qonto-Signature n'est pas de la forme « t=<unix>,v1=<hex> »")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    # compare_digest against every v1 (a secret rotation may send two); no early exit on the first match.
    matched = False
    for signature in signatures:
        matched |= hmac.compare_digest(expected, signature)
    if not matched:
        raise WebhookSignatureError("X-Qonto-Signature ne correspond pas au corps")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise WebhookSignatureError(
            f"l'horodatage {timestamp} de X-Qonto-Signature est à plus de {tolerance} s de l'heure actuelle"
        )
    return int(timestamp)


@dataclass
class TransactionSignal:
    qonto_id: str
    event: str = ""
    bank_account_id: str = ""
    amount: Decimal | None = None
    side: str = ""
    status: str = ""


def webhook_transaction_parse(data: dict) -> TransactionSignal:
    """The ``data`` of a ``v1/transactions`` event, whichever rendering Qonto sends."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"].strip():
        raise WebhookPayloadError("« data.id » (l'identifiant de la transaction) manque")
    account = data.get("bank_account_id") or ""
    if not account and isinstance(data.get("bank_account"), dict):
        account = data["bank_account"].get("id") or ""
    elif not account and isinstance(data.get("bank_account"), str):
        account = data["bank_account"]
    try:
        amount = amount_from_api(data)
    except ValueError:
        amount = None  # informative only: the re-fetch brings the real amount
    return TransactionSignal(
        qonto_id=data["id"].strip(),
        event=str(data.get("event") or ""),
        bank_account_id=str(account),
        amount=amount,
        side=str(data.get("side") or ""),
        status=str(data.get("status") or ""),
    )


@dataclass
class WebhookResult:
    event_id: str
    duplicate: bool
    queued: bool


def _queue_refetch(qonto_id: str) -> None:
    from django_q.tasks import async_task

    async_task(REFETCH_TASK, qonto_id, task_name=f"qonto-refetch-{qonto_id}"[:100])


def webhook_receive(
    *, body: bytes, signature: str | None, now: float | None = None, secret: str | None = None
) -> WebhookResult:
    """Verify, parse, store the event once, and queue the re-fetch after commit. Nothing is written when
    the signature or the payload is refused."""
    signature_verify(
        secret=settings.QONTO_WEBHOOK_SECRET if secret is None else secret,
        header=signature,
        body=body,
        now=now,
    )
    try:
        envelope = json.loads(body)
    except json.JSONDecodeError as exc:
        raise WebhookPayloadError(
            f"le corps n'est pas du JSON (ligne {exc.lineno}, colonne {exc.colno})"
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError("le corps n'est pas du JSON (encodage illisible)") from exc
    if not isinstance(envelope, dict):
        raise WebhookPayloadError("le corps n'est pas un objet JSON")
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 64:
        raise WebhookPayloadError("« id » (l'identifiant de l'événement) manque ou n'est pas valable")
    if not isinstance(event_type, str) or not event_type:
        raise WebhookPayloadError("« type » manque")
    signal = webhook_transaction_parse(envelope.get("data")) if event_type == TRANSACTIONS_TYPE else None
    try:
        with transaction.atomic():
            _, created = WebhookEvent.objects.get_or_create(
                event_id=event_id.strip(),
                defaults={
                    "event_type": event_type[:50],
                    "payload": envelope,
                    "transaction_qonto_id": signal.qonto_id[:64] if signal else "",
                },
            )
            if created and signal:
                transaction.on_commit(lambda: _queue_refetch(signal.qonto_id))
    except IntegrityError:
        created = False  # the same event delivered twice at once: the other request stored it
    if not created:
        log.info("Webhook Qonto %s déjà reçu", event_id)
    return WebhookResult(event_id=event_id, duplicate=not created, queued=bool(created and signal))
