"""Watching the inbox: new messages since the last UID done, each stored once, linked, classified, acted on.

Per folder the state row keeps (UIDVALIDITY, last UID done). A run asks for ``last+1:*`` and keeps only UIDs
above the last one (an IMAP server always returns the highest UID for ``N:*``). Each message is processed in
its own transaction that also moves the last UID on: a run killed half-way resumes after the last message it
finished, and a message is never acted on twice (its Message-ID is unique, too). When UIDVALIDITY changes
every UID is void: the last IMAP_FIRST_RUN_DAYS days are read again and the Message-IDs already stored are
skipped. The first run of a folder reads those days only, not years of history.

A message that cannot be read (broken MIME, unknown charset, no Message-ID, too large) is stored with its
anomalies flagged; one that breaks the processing itself is stored as such with the error. Neither stops
the run, nor the messages after it. Messages are read with BODY.PEEK (left unread) unless IMAP_MARK_SEEN.
A folder being read by another run (a lease on its state row) is skipped.
"""

import datetime as dt
import logging
import re
import traceback
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from imap_tools import AND, MailMessageFlags
from imap_tools.errors import MailboxFolderSelectError, MailboxFolderStatusError

from mailbox.models import InboundMessage, InboxState
from mailbox.models.inbound import Action, LinkMethod
from mailbox.services.classification import reply_classify
from mailbox.services.connection import ImapConfig, imap_config, imap_connect
from mailbox.services.linking import link
from mailbox.services.parsing import Flag, ParsedMessage, parse_message
from mailbox.services.replies import reply_act
from syaga.core.errors import BusinessError
from syaga.core.money import quantize

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=30)
FETCH_CHUNK = 100
PARTIAL_BYTES = 256 * 1024
HUNDREDTH = Decimal("0.01")
_SIZE = re.compile(rb"UID (\d+).*?RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*?UID (\d+)")


@dataclass
class FolderReport:
    folder: str
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    errors: int = 0
    skipped: str = ""
    rescanned: bool = False


@dataclass
class PollReport:
    folders: list[FolderReport] = field(default_factory=list)

    def __str__(self):
        parts = []
        for f in self.folders:
            if f.skipped:
                parts.append(f"{f.folder} : {f.skipped}")
            else:
                parts.append(
                    f"{f.folder} : {f.stored} nouveau(x), {f.duplicates} déjà vu(s), "
                    f"{f.malformed} mal formé(s), "
                    f"{f.errors} en erreur" + (" (UIDVALIDITY changée : relu)" if f.rescanned else "")
                )
        return "; ".join(parts) or "aucun dossier"


def _lease(state: InboxState, now: dt.datetime) -> bool:
    return bool(
        InboxState.objects.filter(pk=state.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + LEASE)
    )


def inbox_poll(*, config: ImapConfig | None = None, now: dt.datetime | None = None) -> PollReport:
    """Read every watched folder once."""
    config = config or imap_config()
    report = PollReport()
    with imap_connect(config) as box:
        for folder in config.folders:
            try:
                report.folders.append(_poll_folder(box, config, folder, now or timezone.now()))
            except (MailboxFolderSelectError, MailboxFolderStatusError) as exc:
                # A folder that does not exist (IMAP_FOLDERS) does not stop the others.
                log.error("dossier %s illisible : %s", folder, exc)
                report.folders.append(FolderReport(folder=folder, skipped=f"dossier illisible ({exc})"))
    return report


def _poll_folder(box, config: ImapConfig, folder: str, now: dt.datetime) -> FolderReport:
    report = FolderReport(folder=folder)
    state, _ = InboxState.objects.get_or_create(account=config.account, folder=folder)
    if not _lease(state, now):
        report.skipped = "lecture déjà en cours par une autre tâche"
        return report
    try:
        box.folder.set(folder, readonly=not settings.IMAP_MARK_SEEN)
        status = box.folder.status(folder, ["UIDVALIDITY"])
        uidvalidity = int(status["UIDVALIDITY"])
        since = timezone.localdate(now) - dt.timedelta(days=settings.IMAP_FIRST_RUN_DAYS)
        if state.uidvalidity != uidvalidity:
            report.rescanned = state.uidvalidity is not None
            InboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
            state.uidvalidity, state.last_uid = uidvalidity, 0
            uids = [int(u) for u in box.uids(AND(date_gte=since))]
        else:
            uids = [int(u) for u in box.uids(AND(uid=f"{state.last_uid + 1}:*")) if int(u) > state.last_uid]
        uids.sort()
        sizes = _sizes(box, uids)
        for uid in uids:
            _one(box, config, folder, state, uid, sizes.get(uid, 0), report)
        InboxState.objects.filter(pk=state.pk).update(last_polled_at=timezone.now())
    finally:
        InboxState.objects.filter(pk=state.pk).update(lease_until=None)
    return report


def _sizes(box, uids: list[int]) -> dict[int, int]:
    """RFC822.SIZE of each UID, in chunks, without downloading anything."""
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), FETCH_CHUNK):
        chunk = ",".join(str(u) for u in uids[start : start + FETCH_CHUNK])
        typ, data = box.client.uid("FETCH", chunk, "(UID RFC822.SIZE)")
        if typ != "OK":
            continue
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            found = _SIZE.search(line)
            if found:
                uid = int(found[1] or found[4])
                sizes[uid] = int(found[2] or found[3])
    return sizes


def _fetch_raw(box, uid: int, size: int) -> tuple[bytes, bool]:
    """The message's bytes, or for an oversize one its header and the start of its first part."""
    if size <= settings.IMAP_MAX_MESSAGE_BYTES:
        typ, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[])")
        return _literal(typ, data, uid), False
    typ, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
    header = _literal(typ, data, uid)
    if re.search(rb"(?im)^content-type:\s*multipart/", header):
        typ, data = box.client.uid("FETCH", str(uid), f"(BODY.PEEK[1.MIME] BODY.PEEK[1]<0.{PARTIAL_BYTES}>)")
        pieces = [item[1] for item in data if isinstance(item, tuple)] if typ == "OK" else []
        part = b"".join(pieces)
        # The first part replaces the multipart body: its own MIME header carries its content type.
        header = re.sub(rb"(?im)^content-type:.*(?:\r?\n[ \t].*)*\r?\n", b"", header)
        header = re.sub(rb"(?im)^content-transfer-encoding:.*\r?\n", b"", header)
        return header.rstrip(b"\r\n") + b"\r\n" + part, True
    typ, data = box.client.uid("FETCH", str(uid), f"(BODY.PEEK[TEXT]<0.{PARTIAL_BYTES}>)")
    return header + _literal(typ, data, uid), True


def _literal(typ, data, uid) -> bytes:
    if typ != "OK":
        raise BusinessError(f"UID {uid} : lecture refusée par le serveur ({typ})")
    for item in data:
        if isinstance(item, tuple):
            return item[1]
    return b""


def _one(box, config: ImapConfig, folder: str, state: InboxState, uid: int, size: int, report: FolderReport):
    report.fetched += 1
    # A lost connection stops the run here (the next one resumes at this UID); a message the server will not
    # give is stored as such, or it would block every run after it.
    try:
        raw, truncated = _fetch_raw(box, uid, size)
    except BusinessError as exc:
        placeholder = (
            f"Message-ID: <uid-{state.uidvalidity}-{uid}@{folder.replace(' ', '_')}>\r\n\r\n".encode()
        )
        report.errors += 1
        _store_failure(placeholder, exc, account=config.account, folder=folder, uid=uid, state=state)
        return
    try:
        outcome = inbound_store(
            raw, account=config.account, folder=folder, uid=uid, truncated=truncated, state=state, size=size
        )
    except Exception as exc:
        log.exception("message UID %s du dossier %s", uid, folder)
        outcome = _store_failure(raw, exc, account=config.account, folder=folder, uid=uid, state=state)
        report.errors += 1
    if outcome == "stored":
        report.stored += 1
    elif outcome == "duplicate":
        report.duplicates += 1
    elif outcome == "malformed":
        report.stored += 1
        report.malformed += 1
    if settings.IMAP_MARK_SEEN:
        try:
            box.flag([str(uid)], MailMessageFlags.SEEN, True)
        except Exception:
            log.warning("UID %s : non marqué comme lu", uid)


def _advance(state: InboxState | None, uid: int | None) -> None:
    if state is not None and uid is not None:
        InboxState.objects.filter(pk=state.pk, last_uid__lt=uid).update(last_uid=uid)


def inbound_store(
    raw: bytes,
    *,
    account: str = "",
    folder: str = "",
    uid: int | None = None,
    truncated: bool = False,
    state: InboxState | None = None,
    size: int = 0,
    now: dt.datetime | None = None,
) -> str:
    """Store, link, classify and act on one raw message, and move the folder's last UID, in one transaction.

    Returns "stored", "malformed" or "duplicate" (a Message-ID already stored: nothing done again).
    """
    parsed = parse_message(raw, truncated=truncated)
    if size:
        parsed.size = size
    with transaction.atomic():
        if InboundMessage.objects.filter(message_id=parsed.message_id).exists():
            _advance(state, uid)
            return "duplicate"
        message = _store(parsed, account=account, folder=folder, uid=uid)
        if parsed.from_email and parsed.from_email == _own_address():
            message.action, message.action_note = Action.IGNORED, "envoyé par nous"
            message.save(update_fields=["action", "action_note"])
        else:
            verdict = reply_classify(
                subject=parsed.subject, body=parsed.text, html=parsed.html, headers=parsed.headers
            )
            message.new_text = verdict.new_text
            found = link(parsed, new_text=verdict.new_text)
            message.invoice, message.client, message.link_method = found.invoice, found.client, found.method
            message.category, message.urgency = verdict.category, verdict.urgency
            message.confidence = quantize(Decimal(repr(verdict.confidence)), HUNDREDTH)
            message.reasons = "\n".join(verdict.reasons)[:4000]
            message.save()
            reply_act(message=message, verdict=verdict, now=now)
        _advance(state, uid)
    return "malformed" if parsed.malformed else "stored"


def _own_address() -> str:
    return settings.DEFAULT_FROM_EMAIL.rpartition("<")[2].strip(" >").lower()


def _store(parsed: ParsedMessage, *, account: str, folder: str, uid: int | None) -> InboundMessage:
    return InboundMessage.objects.create(
        account=account,
        folder=folder,
        uid=uid,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references)[:10000],
        from_email=parsed.from_email,
        from_name=parsed.from_name,
        to=parsed.to,
        subject=parsed.subject,
        sent_at=parsed.date,
        headers=parsed.headers,
        text=parsed.text,
        html=parsed.html,
        attachments=parsed.attachments,
        size=parsed.size,
        flags=parsed.flags,
        malformed=parsed.malformed,
        link_method=LinkMethod.NONE,
    )


def _store_failure(
    raw: bytes, exc: Exception, *, account: str, folder: str, uid: int, state: InboxState
) -> str:
    """The processing broke: keep what can be kept, flagged with the error, and move on."""
    parsed = parse_message(raw or b"")
    parsed.flag(Flag.PARSE_ERROR)
    note = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-3:])
    try:
        with transaction.atomic():
            if not InboundMessage.objects.filter(message_id=parsed.message_id).exists():
                message = _store(parsed, account=account, folder=folder, uid=uid)
                message.action, message.action_note = Action.FAILED, note[:2000]
                message.save(update_fields=["action", "action_note"])
            _advance(state, uid)
    except IntegrityError:
        _advance(state, uid)
    return "malformed"
