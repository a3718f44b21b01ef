"""Getting Qonto transactions in: incremental sync, saved-response import, re-fetch, daily balances.

Each transaction is stored once (``qonto_id`` is unique). A newer version replaces the bank fields only:
what the reconciliation decided (``match_*``, ``processed_at``) is kept. Writes go page by page: one query
finds the ids already stored (and locks them), one upsert writes the new and the changed rows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from banking.clients.qonto import (
    DEFAULT_STATUSES,
    QontoClient,
    QontoError,
    amount_from_api,
    client_from_settings,
    datetime_from_api,
)
from banking.models import BalanceSnapshot, BankAccount, BankTransaction, Side, WebhookEvent
from syaga.core.errors import InputError
from syaga.core.money import format_eur, quantize

log = logging.getLogger(__name__)

# The fields that come from the bank; a re-sync replaces exactly these.
BANK_FIELDS = [
    "transaction_id",
    "account",
    "amount",
    "currency",
    "side",
    "operation_type",
    "status",
    "label",
    "clean_counterparty_name",
    "reference",
    "note",
    "counterparty_iban",
    "counterparty_bic",
    "emitted_at",
    "settled_at",
    "qonto_updated_at",
    "raw",
]
_AMOUNT_FIELD = BankTransaction._meta.get_field("amount")
# DecimalField(max_digits=14, decimal_places=2): the largest amount the column holds.
MAX_AMOUNT = Decimal(10) ** (_AMOUNT_FIELD.max_digits - _AMOUNT_FIELD.decimal_places) - Decimal("0.01")
# Per-type sub-objects that carry the other party's account (contract A3).
COUNTERPARTY_OBJECTS = (
    "income",
    "transfer",
    "swift_income",
    "direct_debit",
    "direct_debit_collection",
    "direct_debit_hold",
    "check",
)


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged

    def text(self) -> str:
        """``2 créée(s), 0 mise(s) à jour, 1 inchangée(s)``: what a person reads of the counts."""
        return f"{self.created} créée(s), {self.updated} mise(s) à jour, {self.unchanged} inchangée(s)"


@dataclass
class AccountSync:
    qonto_id: str
    name: str
    updated_at_from: dt.datetime | None
    pages: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    synced_through: dt.datetime | None = None


@dataclass
class SyncReport:
    accounts_created: int = 0
    accounts_updated: int = 0
    transactions: UpsertCounts = field(default_factory=UpsertCounts)
    accounts: list[AccountSync] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"comptes : {self.accounts_created} créé(s), {self.accounts_updated} mis à jour ; "
            f"transactions : {self.transactions.text()}"
        )


# --- mapping -----------------------------------------------------------------------------------------------


def _text(value, limit: int) -> str:
    return "" if value is None else str(value).strip()[:limit]


def _counterparty(data: dict) -> tuple[str, str]:
    for key in COUNTERPARTY_OBJECTS:
        sub = data.get(key)
        if not isinstance(sub, dict):
            continue
        number = str(sub.get("counterparty_account_number") or "").replace(" ", "").upper()
        if not number:
            continue
        number_format = str(sub.get("counterparty_account_number_format") or "").upper()
        bic = str(sub.get("counterparty_bank_identifier") or "").replace(" ", "").upper()
        looks_iban = number[:2].isalpha() and number[2:4].isdigit() and len(number) <= 34
        iban = number if number_format == "IBAN" or (not number_format and looks_iban) else ""
        return iban[:34], bic[:11]
    return "", ""


def _non_finite(value, path: str = "") -> tuple[str, float] | None:
    """(path, value) of the first NaN or infinite number in a parsed JSON value (``local_amount``,
    ``attachments[0].size``), or None. Python's JSON reader accepts ``NaN`` and ``Infinity``; JSON itself
    and PostgreSQL's jsonb do not."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "value", value
    if isinstance(value, dict):
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    for item_path, item in items:
        found = _non_finite(item, item_path)
        if found:
            return found
    return None


def transaction_store_from_api(data, *, accounts: dict[str, BankAccount], where: str) -> dict:
    """The model fields for one ``/v2/transactions`` object. Raises :class:`InputError` naming ``where``."""
    if not isinstance(data, dict):
        raise InputError("une transaction doit être un objet JSON", where=where)
    qonto_id = data.get("id")
    if not isinstance(qonto_id, str) or not qonto_id.strip():
        raise InputError("transaction sans « id »", where=where)
    where = f"{where}, transaction {qonto_id}"
    bad = _non_finite(data)
    if bad:
        raise InputError(f"« {bad[0]} » vaut {json.dumps(bad[1])} : ce n'est pas un nombre fini", where=where)
    side = data.get("side")
    if side not in Side.values:
        raise InputError(f"side « {side} » n'est ni « credit » ni « debit »", where=where)
    try:
        amount = amount_from_api(data)
    except ValueError as exc:
        raise InputError(str(exc), where=where) from exc
    if amount is None:
        raise InputError("ni « amount » ni « amount_cents »", where=where)
    if not amount.is_finite():
        raise InputError(f"montant « {amount} » : ce n'est pas un nombre fini", where=where)
    if abs(amount) > MAX_AMOUNT:
        raise InputError(
            f"montant {format_eur(amount)} trop grand (au plus {format_eur(MAX_AMOUNT)})", where=where
        )
    if amount < 0:
        raise InputError(
            f"montant {format_eur(amount)} négatif (les montants de Qonto sont positifs, « side » donne le "
            "sens)",
            where=where,
        )
    try:
        emitted_at = datetime_from_api(data.get("emitted_at"))
        settled_at = datetime_from_api(data.get("settled_at"))
        updated_at = datetime_from_api(data.get("updated_at"))
    except ValueError as exc:
        raise InputError(str(exc), where=where) from exc
    iban, bic = _counterparty(data)
    account_id = data.get("bank_account_id")
    if not account_id and isinstance(data.get("bank_account"), dict):
        account_id = data["bank_account"].get("id")
    return {
        "qonto_id": qonto_id.strip(),
        "transaction_id": _text(data.get("transaction_id"), 200),
        "account": accounts.get(account_id) if account_id else None,
        "amount": quantize(amount),
        "currency": _text(data.get("currency") or "EUR", 3),
        "side": side,
        "operation_type": _text(data.get("operation_type"), 40),
        "status": _text(data.get("status") or "completed", 20),
        "label": _text(data.get("label"), 300),
        "clean_counterparty_name": _text(data.get("clean_counterparty_name"), 300),
        "reference": _text(data.get("reference"), 300),
        "note": "" if data.get("note") is None else str(data["note"]),
        "counterparty_iban": iban,
        "counterparty_bic": bic,
        "emitted_at": emitted_at,
        "settled_at": settled_at,
        "qonto_updated_at": updated_at,
        "raw": data,
    }


def _newest_per_id(rows: Iterable[dict]) -> dict[str, dict]:
    """One row per qonto_id: the one with the newest ``updated_at`` (the later one on a tie)."""
    kept: dict[str, dict] = {}
    for row in rows:
        old = kept.get(row["qonto_id"])
        if old is None or (old["qonto_updated_at"] or _MIN) <= (row["qonto_updated_at"] or _MIN):
            kept[row["qonto_id"]] = row
    return kept


_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)


def _differs(stored: BankTransaction, row: dict) -> bool:
    for name in BANK_FIELDS:
        if name == "account":
            if stored.account_id != (row["account"].pk if row["account"] else None):
                return True
        elif getattr(stored, name) != row[name]:
            return True
    return False


def transactions_upsert(*, rows: Iterable[dict]) -> UpsertCounts:
    """Store mapped rows: insert the unknown ids, replace the bank fields of the changed ones.

    A row older than what is stored (its ``updated_at`` is earlier) is skipped, so importing an old
    saved response never undoes a sync. Two queries (plus the savepoint) whatever the number of rows.
    """
    by_id = _newest_per_id(rows)
    counts = UpsertCounts()
    if not by_id:
        return counts
    with transaction.atomic():
        # Locked (in a fixed order) so that a webhook re-fetch and a sync cannot interleave their
        # "is it newer?" check and their write on the same rows.
        existing = {
            t.qonto_id: t
            for t in BankTransaction.objects.select_for_update()
            .filter(qonto_id__in=list(by_id))
            .order_by("qonto_id")
        }
        new, changed = [], []
        for qonto_id, row in by_id.items():
            stored = existing.get(qonto_id)
            if stored is None:
                new.append(BankTransaction(**row))
                continue
            older = (
                stored.qonto_updated_at
                and row["qonto_updated_at"]
                and row["qonto_updated_at"] < stored.qonto_updated_at
            )
            if older or not _differs(stored, row):
                counts.unchanged += 1
                continue
            changed.append(BankTransaction(**row))
        # INSERT ... ON CONFLICT (qonto_id) DO UPDATE of the bank fields only. For the changed rows it is
        # the update (bulk_update's CASE per field took 7 s per 1,000 rows); for the new ones it turns a
        # concurrent insert of the same id (webhook re-fetch) into an update instead of an IntegrityError.
        if new or changed:
            BankTransaction.objects.bulk_create(
                new + changed,
                update_conflicts=True,
                unique_fields=["qonto_id"],
                update_fields=[*BANK_FIELDS, "updated_at"],
            )
    counts.created += len(new)
    counts.updated += len(changed)
    return counts


# --- accounts ----------------------------------------------------------------------------------------------


def _account_fields(data: dict, where: str) -> dict:
    try:
        balance = amount_from_api(data, "balance")
        authorized = amount_from_api(data, "authorized_balance")
    except ValueError as exc:
        raise InputError(str(exc), where=where) from exc
    return {
        "slug": _text(data.get("slug"), 100),
        "name": _text(data.get("name"), 200),
        "iban": _text(data.get("iban"), 34).replace(" ", ""),
        "bic": _text(data.get("bic"), 11),
        "currency": _text(data.get("currency") or "EUR", 3),
        "balance": quantize(balance if balance is not None else 0),
        "authorized_balance": quantize(authorized if authorized is not None else 0),
        "status": _text(data.get("status") or "active", 20),
        "main": bool(data.get("main")),
    }


def accounts_sync(*, client: QontoClient, report: SyncReport | None = None) -> list[BankAccount]:
    """Create or update the organization's bank accounts (with their balances) from ``/v2/organization``."""
    report = report if report is not None else SyncReport()
    listed = client.list_bank_accounts()
    ids = []
    for index, data in enumerate(listed):
        if not isinstance(data, dict) or not data.get("id"):
            raise QontoError(f"Qonto /v2/organization bank_accounts[{index}] : pas d'« id »")
        ids.append(data["id"])
    existing = {a.qonto_id: a for a in BankAccount.objects.filter(qonto_id__in=ids)}
    accounts = []
    with transaction.atomic():
        for data in listed:
            fields = _account_fields(data, f"compte bancaire Qonto {data['id']}")
            account = existing.get(data["id"])
            if account is None:
                account = BankAccount.objects.create(qonto_id=data["id"], **fields)
                report.accounts_created += 1
            elif any(getattr(account, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(account, k, v)
                account.save()
                report.accounts_updated += 1
            accounts.append(account)
    return accounts


# --- sync --------------------------------------------------------------------------------------------------


def qonto_sync(
    *, client: QontoClient | None = None, since: dt.datetime | None = None, statuses=DEFAULT_STATUSES
) -> SyncReport:
    """Accounts, then each account's transactions updated since ``since`` or its ``synced_through``.

    The progress marker moves only once all of an account's pages are stored, to the newest ``updated_at``
    seen: a crash half-way leaves it where it was, and the next run fetches those pages again (harmless).
    """
    client = client or client_from_settings()
    report = SyncReport()
    accounts = accounts_sync(client=client, report=report)
    by_qonto_id = {a.qonto_id: a for a in accounts}
    for account in accounts:
        start = since or account.synced_through
        line = AccountSync(qonto_id=account.qonto_id, name=account.name, updated_at_from=start)
        newest = account.synced_through
        for page in client.iter_transaction_pages(account.qonto_id, start, statuses=statuses):
            line.pages += 1
            where = f"Qonto /v2/transactions compte {account.qonto_id} page {line.pages}"
            try:
                rows = [transaction_store_from_api(data, accounts=by_qonto_id, where=where) for data in page]
            except InputError as exc:
                raise QontoError(f"transaction inattendue venue de Qonto : {exc}") from exc
            for row in rows:
                row["account"] = row["account"] or account
                if row["qonto_updated_at"] and (newest is None or row["qonto_updated_at"] > newest):
                    newest = row["qonto_updated_at"]
            line.counts.add(transactions_upsert(rows=rows))
        if newest != account.synced_through:
            BankAccount.objects.filter(pk=account.pk).update(synced_through=newest)
            account.synced_through = newest
        line.synced_through = newest
        report.transactions.add(line.counts)
        report.accounts.append(line)
        log.info(
            "Synchronisation Qonto %s : %s page(s), %s", account.qonto_id, line.pages, line.counts.text()
        )
    return report


def transactions_import(*, payloads: list[tuple[str, object]]) -> UpsertCounts:
    """Load saved ``/v2/transactions`` responses ``(name, parsed JSON)``; all-or-nothing and idempotent.

    Every payload is checked before anything is written; the first problem raises :class:`InputError`
    naming the file (and the transaction) and the reason. A transaction id met twice, in one file or in
    two, is such a problem: which of the two versions to keep is the user's call, not a silent choice.
    """
    accounts = {a.qonto_id: a for a in BankAccount.objects.all()}
    rows = []
    seen: dict[str, str] = {}
    for name, payload in payloads:
        if not isinstance(payload, dict) or not isinstance(payload.get("transactions"), list):
            raise InputError(
                'forme de /v2/transactions attendue : {"transactions": [...], "meta": {...}}', where=name
            )
        if "meta" in payload and not isinstance(payload["meta"], dict):
            raise InputError("« meta » doit être un objet", where=name)
        for index, data in enumerate(payload["transactions"]):
            where = f"{name}, transactions[{index}]"
            row = transaction_store_from_api(data, accounts=accounts, where=where)
            first = seen.get(row["qonto_id"])
            if first is not None:
                raise InputError(
                    f"la transaction {row['qonto_id']} figure déjà dans {first} : chaque transaction ne doit "
                    "figurer qu'une fois (retirez l'une des deux)",
                    where=where,
                )
            seen[row["qonto_id"]] = where
            rows.append(row)
    return transactions_upsert(rows=rows)


def transactions_import_files(*, paths: list[str]) -> UpsertCounts:
    """:func:`transactions_import` of saved response files, read as UTF-8 JSON; all or nothing."""
    payloads = []
    for name in paths:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError("fichier introuvable", where=name) from exc
        except OSError as exc:
            raise InputError(f"fichier illisible ({exc.strerror})", where=name) from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"fichier illisible : ce n'est pas de l'UTF-8 (octet {exc.start})", where=name
            ) from exc
        try:
            payloads.append((name, json.loads(text)))
        except json.JSONDecodeError as exc:
            raise InputError(f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno})", where=name) from exc
    return transactions_import(payloads=payloads)


def transaction_refetch(*, qonto_id: str, client: QontoClient | None = None) -> BankTransaction | None:
    """Body of the webhook's queued task: fetch ``/v2/transactions/{id}`` and store it like a sync would."""
    client = client or client_from_settings()
    try:
        data = client.get_transaction(qonto_id)
    except QontoError as exc:
        if exc.status == 404:
            log.warning("La transaction Qonto %s annoncée par un webhook n'existe plus", qonto_id)
            WebhookEvent.objects.filter(transaction_qonto_id=qonto_id, processed_at=None).update(
                processed_at=timezone.now()
            )
            return None
        raise
    accounts = {a.qonto_id: a for a in BankAccount.objects.all()}
    if data.get("bank_account_id") and data["bank_account_id"] not in accounts:
        accounts = {a.qonto_id: a for a in accounts_sync(client=client)}
    row = transaction_store_from_api(data, accounts=accounts, where=f"Qonto /v2/transactions/{qonto_id}")
    transactions_upsert(rows=[row])
    WebhookEvent.objects.filter(transaction_qonto_id=qonto_id, processed_at=None).update(
        processed_at=timezone.now()
    )
    return BankTransaction.objects.get(qonto_id=row["qonto_id"])


def balances_snapshot(*, on: dt.date | None = None) -> list[BalanceSnapshot]:
    """One snapshot per account and day of the balance stored by the last sync (re-running the same day
    replaces it)."""
    on = on or timezone.localdate()
    snapshots = []
    with transaction.atomic():
        for account in BankAccount.objects.exclude(status="closed").order_by("pk"):
            snapshot, _ = BalanceSnapshot.objects.update_or_create(
                account=account, date=on, defaults={"balance": account.balance}
            )
            snapshots.append(snapshot)
    return snapshots
