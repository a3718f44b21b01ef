"""Which open invoices a credit transfer pays: a pure decision engine over in-memory snapshots.

Nothing here touches the database. :class:`Matcher` is built once from the open invoices, the clients
(names and aliases) and the payer identities learned from confirmations, then :meth:`Matcher.decide` is
called for each credit, oldest first, and :meth:`Matcher.apply` books the allocations of a decision into
the in-memory balances so that the next credit sees what is still open (instalments, oldest first).

Design, precision first (a wrong automatic match is far worse than none):

1. **Reference**: invoice numbers typed any way (``F20250012``, ``f 2025 0012``, ``FACT 20250012``,
   ``facture n° F2025-12``) and ISO 11649 ``RF`` references are read from the reference, note and label,
   and kept only when they name an invoice we issued.
2. **Payer**: the IBAN learned from a confirmation, then the exact normalised name (client, alias,
   learned name; also with spaces squashed), then a fuzzy name accepted only above a threshold *and* with
   a margin over the runner-up (short names inside long ones, "BEST" in "PHARMABEST", are the trap: the
   scorers used here are length-sensitive and never reward a substring).
3. **Amount** in integer cents: exact balance, exact sum of several invoices (bounded subset sum, oldest
   first), a small shortfall (bank fees, configurable), a small overpayment, an instalment.
4. **Decision**: rules, not a weighted sum. A reference plus an amount that fits is applied even if
   someone else pays (accountant, parent company); without a reference, only a certain payer with an
   unambiguous amount is applied; weaker evidence becomes a suggestion for a person; nothing plausible
   stays unmatched. Each decision carries a 0-100 score and short reasons.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from rapidfuzz import fuzz, process
from stdnum.iso7064 import mod_97_10

from syaga.core.money import quantize
from syaga.core.text import fold, normalize_company_name

MATCHED = "matched"
TRUNCATION_MIN_LENGTH = 30  # a label this long may have been cut by the bank
NEAR_PERCENT = 5  # open invoices within 5 % of a transfer compete for it when none is exact
SUGGESTED = "suggested"
UNMATCHED = "unmatched"

FEE_WRITE_OFF = "write_off"
FEE_LEAVE_OPEN = "leave_open"


@functools.lru_cache(maxsize=200_000)
def invoice_rf_reference(number: str) -> str:
    """The ISO 11649 creditor reference of an invoice number: ``F20250012`` -> ``RF55F20250012``."""
    ref = re.sub(r"[^0-9A-Z]", "", (number or "").upper())
    return "RF" + mod_97_10.calc_check_digits(ref + "RF") + ref


def to_cents(amount: Decimal) -> int:
    """The amount in whole cents, rounded by :func:`quantize` (stored amounts have two decimals: exact)."""
    return int(quantize(amount) * 100)


def from_cents(cents: int) -> Decimal:
    return quantize(Decimal(cents) / 100)


def fmt(cents: int) -> str:
    return f"{from_cents(cents)}"


# --------------------------------------------------------------------------------------------- snapshots


@dataclass
class OpenInvoice:
    id: int
    number: str
    client_id: int
    balance_cents: int
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    total_cents: int = 0

    @property
    def sort_key(self):
        return (self.issue_date or dt.date.min, self.number)


@dataclass
class ClientSnapshot:
    id: int
    name: str
    other_names: list[str] = field(default_factory=list)  # aliases and learned payer names


@dataclass
class CreditSnapshot:
    id: int
    transaction_id: str
    amount_cents: int
    label: str = ""
    counterparty: str = ""
    reference: str = ""
    note: str = ""
    iban: str = ""
    settled_on: dt.date | None = None


@dataclass
class Allocation:
    invoice_id: int
    number: str
    amount_cents: int
    write_off_cents: int = 0

    def as_json(self) -> dict:
        return {
            "invoice_id": self.invoice_id,
            "invoice": self.number,
            "amount": fmt(self.amount_cents),
            "write_off": fmt(self.write_off_cents),
        }


@dataclass
class Candidate:
    allocations: list[Allocation]
    score: int
    reasons: list[str]

    def as_json(self) -> dict:
        return {
            "allocations": [a.as_json() for a in self.allocations],
            "score": self.score,
            "reasons": self.reasons,
        }


@dataclass
class Decision:
    credit: CreditSnapshot
    status: str
    allocations: list[Allocation] = field(default_factory=list)
    score: int = 0
    reasons: list[str] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class MatchingConfig:
    fee_tolerance_cents: int = 200  # a shortfall up to this is bank fees
    fee_tolerance_percent: Decimal = Decimal("0.5")  # ... or up to this share of the balance, if larger
    fee_policy: str = FEE_WRITE_OFF  # or FEE_LEAVE_OPEN: the invoice stays partially paid
    overpayment_tolerance_cents: int = 500  # an excess up to this is accepted, the rest stays unapplied
    fuzzy_accept: float = 88.0  # a fuzzy name below this is never "the payer"
    fuzzy_margin: float = 6.0  # ... and must beat the next client by this much
    fuzzy_suggest: float = 70.0
    subset_max_invoices: int = 40  # oldest open invoices of a client tried in a combination
    subset_max_size: int = 4

    def fee_tolerance(self, balance_cents: int) -> Decimal:
        """The largest shortfall, in cents, taken as bank fees on this balance.

        Not rounded: it only bounds whole-cent shortfalls, and ``gap <= x`` is ``gap <= floor(x)`` for a
        whole number of cents, so the bound holds exactly as the truncated figure did.
        """
        by_share = Decimal(balance_cents) * self.fee_tolerance_percent / 100
        return max(Decimal(self.fee_tolerance_cents), by_share)


# ------------------------------------------------------------------------------------------- text parsing

# In folded text (upper case, punctuation -> spaces): an optional "F", the year, the sequence.
_NUMBER_RE = re.compile(r"(?<![0-9])(?P<f>F ?)?(?P<year>20\d\d) ?(?P<seq>\d{1,6})(?![0-9])")
_KEYWORD_RE = re.compile(r"(?:FACTURES?|FACTS?|FACT|FAC|FCT|FA|INVOICE|INV|REF|N|NO|NUM|NUMERO)\s*$")
_RF_RE = re.compile(r"RF\d\d")

# Words banks and payers put around a name.
BANK_WORDS = {
    "VIR",
    "VIREMENT",
    "VIRT",
    "SEPA",
    "INST",
    "INSTANTANE",
    "RECU",
    "EMIS",
    "DE",
    "DU",
    "DES",
    "LA",
    "LE",
    "PAR",
    "ORDRE",
    "DONNEUR",
    "D",
    "CPT",
    "COMPTE",
    "PRLV",
    "REF",
    "MOTIF",
    "NPY",
    "EREF",
    "M",
    "MR",
    "MME",
    "MLLE",
    "MONSIEUR",
    "MADAME",
    "POUR",
    "CREDIT",
    "CB",
    "FROM",
    "ET",
    "OU",
}
# Credits that are not client payments, whatever their amount.
NON_INVOICE_WORDS = {
    "DGFIP",
    "IMPOTS",
    "IMPOT",
    "TRESOR",
    "URSSAF",
    "INTERETS",
    "INTERET",
    "REMUNERATION",
    "CAPITAL",
    "APPORT",
    "REMBOURSEMENT",
    "REMB",
    "RBT",
    "AVOIR",
    "CAF",
    "CPAM",
    "SUBVENTION",
    "DIVIDENDE",
    "PRET",
    "CARTE",
    "ANNULATION",
    "RETOUR",
}


def find_invoice_numbers(text: str, known: set[str]) -> list[tuple[str, bool]]:
    """Known invoice numbers named in ``text``, in order, each with whether the naming is strong.

    Strong: an ``F`` before the digits or a word like FACT/FACTURE/N° just before. Weak: bare digits that
    happen to be a known number (``20250012``): a date or an order number can look the same.
    """
    folded = fold(text)
    found: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for m in _NUMBER_RE.finditer(folded):
        seq = m["seq"]
        has_f = bool(m["f"])
        if not has_f and len(seq) < 4:
            continue
        if has_f and m.start() > 0 and folded[m.start() - 1].isalpha():
            # "...FACTF2025": the F is glued to a word; keep it only if that word is a keyword
            before = folded[max(0, m.start() - 12) : m.start()]
            if not _KEYWORD_RE.search(before):
                has_f = False
        if len(seq) < 4:
            seq = seq.zfill(4)
        number = f"F{m['year']}{seq}"
        if number not in known or number in seen:
            continue
        strong = has_f or bool(_KEYWORD_RE.search(folded[max(0, m.start() - 12) : m.start()]))
        seen.add(number)
        found.append((number, strong))
    return found


def find_rf_references(text: str, rf_lengths: set[int], known: dict[str, object]) -> list[str]:
    """Known ISO 11649 references in ``text`` (spaces anywhere, as they are printed in groups of four)."""
    squashed = re.sub(r"[^0-9A-Z]", "", fold(text))
    found = []
    for m in _RF_RE.finditer(squashed):
        for length in rf_lengths:
            candidate = squashed[m.start() : m.start() + length]
            if candidate in known and candidate not in found:
                found.append(candidate)
    return found


@functools.lru_cache(maxsize=200_000)
def clean_payer_name(text: str) -> str:
    """A bank-written payer name reduced to what identifies the company (bank words, digits, forms out)."""
    folded = fold(text)
    words = [w for w in folded.split() if w not in BANK_WORDS and not any(c.isdigit() for c in w)]
    return normalize_company_name(" ".join(words))


def squash(name: str) -> str:
    return name.replace(" ", "")


# ------------------------------------------------------------------------------------------------ matcher


@dataclass
class _Payer:
    client_ids: set[int]
    how: str  # "iban", "name", "fuzzy", ""
    certain: bool  # IBAN learned or exact name of one client
    reason: str = ""
    fuzzy_score: float = 0.0


class Matcher:
    """Indexes over the open invoices and the clients; decides credit by credit."""

    def __init__(self, *, invoices, clients, payer_ibans=None, closed_numbers=None, config=None):
        self.config = config or MatchingConfig()
        self.invoices: dict[int, OpenInvoice] = {}
        self.by_number: dict[str, OpenInvoice] = {}
        self.by_rf: dict[str, OpenInvoice] = {}
        self.by_client: dict[int, list[OpenInvoice]] = defaultdict(list)
        self.by_amount: dict[int, list[OpenInvoice]] = defaultdict(list)
        for inv in sorted(invoices, key=lambda i: i.sort_key):
            self.invoices[inv.id] = inv
            self.by_number[inv.number] = inv
            self.by_rf[invoice_rf_reference(inv.number)] = inv
            self.by_client[inv.client_id].append(inv)
            self.by_amount[inv.balance_cents].append(inv)
        # Invoices already paid (or cancelled): a reference to one of them is worth saying, never applying.
        self.closed_numbers: dict[str, int] = dict(closed_numbers or {})
        self.known_numbers = set(self.by_number) | set(self.closed_numbers)
        self.rf_lengths = {len(rf) for rf in self.by_rf}
        self.clients: dict[int, ClientSnapshot] = {c.id: c for c in clients}
        self.iban_clients: dict[str, set[int]] = defaultdict(set)
        for iban, client_id in payer_ibans or ():
            self.iban_clients[_norm_iban(iban)].add(client_id)
        # name -> clients, with the exact and the squashed spelling
        self.name_clients: dict[str, set[int]] = defaultdict(set)
        self.squashed_clients: dict[str, set[int]] = defaultdict(set)
        self.token_index: dict[str, set[str]] = defaultdict(set)
        for c in clients:
            for raw in [c.name, *c.other_names]:
                # the registered spelling and the one cleaned like a bank label
                # ("DUPONT ET FILS" -> "DUPONT FILS")
                for name in {_normalized(raw), clean_payer_name(raw)}:
                    if not name:
                        continue
                    self.name_clients[name].add(c.id)
                    self.squashed_clients[squash(name)].add(c.id)
                    for key in _block_keys(name):
                        self.token_index[key].add(name)
        self._fuzzy_cache: dict[str, list[tuple[str, float]]] = {}

    # ---- payer

    def _payer(self, credit: CreditSnapshot) -> _Payer:
        iban = _norm_iban(credit.iban)
        if iban and iban in self.iban_clients:
            ids = self.iban_clients[iban]
            names = ", ".join(sorted(self.clients[i].name for i in ids if i in self.clients))
            return _Payer(set(ids), "iban", len(ids) == 1, f"payer IBAN confirmed for {names}")
        for raw in (credit.counterparty, credit.label):
            name = clean_payer_name(raw)
            if not name:
                continue
            ids = self.name_clients.get(name) or self.squashed_clients.get(squash(name))
            if ids:
                names = ", ".join(sorted(self.clients[i].name for i in ids))
                return _Payer(set(ids), "name", len(ids) == 1, f"payer name {name!r} is {names}")
        for raw in (credit.counterparty, credit.label):
            truncated = self._truncated(raw)
            if truncated:
                return truncated
        for raw in (credit.counterparty, credit.label):
            name = clean_payer_name(raw)
            if len(squash(name)) < 4:
                continue
            ranked = self._fuzzy(name)
            if not ranked:
                continue
            best_name, best = ranked[0]
            best_ids = self.name_clients[best_name]
            runner_up = next((s for n, s in ranked[1:] if self.name_clients[n] != best_ids), 0.0)
            reason = f"payer name {name!r} resembles {best_name!r} ({best:.0f}, next {runner_up:.0f})"
            if (
                best >= self.config.fuzzy_accept
                and best - runner_up >= self.config.fuzzy_margin
                and len(best_ids) == 1
            ):
                return _Payer(set(best_ids), "fuzzy", False, reason, best)
            if best >= self.config.fuzzy_suggest:
                return _Payer(set(best_ids), "weak", False, reason, best)
        return _Payer(set(), "", False)

    def _truncated(self, raw: str) -> _Payer | None:
        """Banks cut long names (at 32 or 35 characters): a long label starting one client's name."""
        if len(fold(raw)) < TRUNCATION_MIN_LENGTH:
            return None
        name = clean_payer_name(raw)
        words = name.split()
        if len(words) < 2:
            return None
        # an unfinished last word may be cut as well: compare on the complete words
        head = " ".join(words[:-1])
        pool = self.token_index.get(f"w:{words[0]}", set())
        ids = {cid for n in pool if n.startswith(head) and n != head for cid in self.name_clients[n]}
        ids = {
            cid
            for cid in ids
            if any(
                n.startswith(name) or n.startswith(head + " " + words[-1][:3]) for n in self._names_of(cid)
            )
        }
        if len(ids) != 1:
            return None
        client = self.clients[next(iter(ids))]
        return _Payer(
            ids,
            "fuzzy",
            False,
            f"payer name {name!r} is the start of {client.name} (cut by the bank)",
            self.config.fuzzy_accept,
        )

    def _names_of(self, client_id: int) -> list[str]:
        c = self.clients[client_id]
        return [n for raw in [c.name, *c.other_names] for n in (_normalized(raw), clean_payer_name(raw))]

    def _fuzzy(self, name: str) -> list[tuple[str, float]]:
        """Client names scored against ``name``, best first; only names sharing a block key are scored."""
        if name in self._fuzzy_cache:
            return self._fuzzy_cache[name]
        pool: set[str] = set()
        for key in _block_keys(name):
            names = self.token_index.get(key)
            if names and len(names) <= 500:  # a word half the clients share identifies nobody
                pool |= names
        ranked: list[tuple[str, float]] = []
        if pool:
            choices = list(pool)
            squashed = [squash(c) for c in choices]
            sq = squash(name)
            scores: dict[str, float] = {}
            for _choice, score, idx in process.extract(
                sq, squashed, scorer=fuzz.ratio, limit=5, score_cutoff=60
            ):
                scores[choices[idx]] = max(scores.get(choices[idx], 0), score)
            for choice, score, _idx in process.extract(
                name, choices, scorer=fuzz.token_sort_ratio, limit=5, score_cutoff=60
            ):
                scores[choice] = max(scores.get(choice, 0), score)
            ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        self._fuzzy_cache[name] = ranked
        return ranked

    # ---- helpers

    def _open_of(self, client_ids) -> list[OpenInvoice]:
        rows = [inv for cid in client_ids for inv in self.by_client.get(cid, ()) if inv.balance_cents > 0]
        return sorted(rows, key=lambda i: i.sort_key)

    def _subset_sums(self, invoices: list[OpenInvoice], target: int, must: set[int] = frozenset()):
        """Combinations (2..k invoices, oldest first) of open balances summing exactly to ``target``."""
        pool = invoices[: self.config.subset_max_invoices]
        n = len(pool)
        bal = [i.balance_cents for i in pool]
        found: set[tuple[int, ...]] = set()
        pairs: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for a in range(n):
            for b in range(a + 1, n):
                pairs[bal[a] + bal[b]].append((a, b))
        for a, b in pairs.get(target, ()):
            found.add((a, b))
        if self.config.subset_max_size >= 3:
            for c in range(n):
                for a, b in pairs.get(target - bal[c], ()):
                    if c not in (a, b):
                        found.add(tuple(sorted((a, b, c))))
        if self.config.subset_max_size >= 4:
            for s, plist in pairs.items():
                rest = pairs.get(target - s)
                if not rest or s > target - s:
                    continue
                for a, b in plist:
                    for c, d in rest:
                        if len({a, b, c, d}) == 4:
                            found.add(tuple(sorted((a, b, c, d))))
                if len(found) > 200:
                    break
        combos = [[pool[i] for i in combo] for combo in sorted(found)]
        if must:
            combos = [c for c in combos if must <= {i.id for i in c}]
        return combos

    # ---- decision

    def decide(self, credit: CreditSnapshot) -> Decision:
        text = " ".join(t for t in (credit.reference, credit.note, credit.label) if t)
        named = find_invoice_numbers(text, self.known_numbers)
        rf_named = find_rf_references(text, self.rf_lengths, self.by_rf) if "RF" in fold(text) else []
        refs: list[tuple[OpenInvoice, bool, str]] = []
        closed: list[str] = []
        for number, strong in named:
            inv = self.by_number.get(number)
            if inv is not None and inv.balance_cents > 0:
                refs.append((inv, strong, f"reference names {number}"))
            elif strong:  # bare digits naming a paid invoice are most likely a date or an order number
                closed.append(number)
        for rf in rf_named:
            inv = self.by_rf[rf]
            if inv.balance_cents <= 0:
                closed.append(inv.number)
                continue
            # "RF55F20250012" also shows the bare digits 20250012: the RF makes that naming strong
            refs = [r for r in refs if r[0] is not inv]
            refs.append((inv, True, f"RF reference {rf} is {inv.number}"))
        if any(strong for _inv, strong, _r in refs):
            refs = [r for r in refs if r[1]]  # bare digits next to a real number are something else
        payer = self._payer(credit)
        non_invoice = _non_invoice_words(text)

        if refs:
            decision = self._decide_with_reference(credit, refs, payer)
            if any(strong for _inv, strong, _r in refs):
                return decision
            # Only bare digits that happen to be one of our numbers: as often a date, a purchase order
            # or the client's own file number. They never decide alone: the payer and the amount do.
            if payer.client_ids and not non_invoice:
                fallback = self._decide_by_payer(credit, payer)
                if fallback.status == MATCHED:
                    fallback.reasons.append("bare digits in the reference not taken for an invoice number")
                    return fallback
            if decision.status == MATCHED:
                decision.candidates = [
                    Candidate(decision.allocations, min(decision.score, 79), decision.reasons)
                ]
                decision.status, decision.allocations = SUGGESTED, []
                decision.score = min(decision.score, 79)
            return decision
        if closed and not refs:
            reasons = [f"reference names {', '.join(closed)}, already paid"]
            cands = self._client_candidates(credit, payer, reasons) if payer.client_ids else []
            return Decision(
                credit,
                SUGGESTED,
                score=40,
                reasons=reasons + ([payer.reason] if payer.reason else []),
                candidates=cands,
            )
        if payer.client_ids and not non_invoice:
            return self._decide_by_payer(credit, payer)
        return self._decide_unknown(credit, payer, non_invoice)

    def _decide_with_reference(self, credit, refs, payer) -> Decision | None:
        cfg = self.config
        invoices = sorted({r[0].id: r[0] for r in refs}.values(), key=lambda i: i.sort_key)
        strong = all(r[1] for r in refs)
        ref_reasons = [r[2] for r in refs]
        ref_clients = {i.client_id for i in invoices}
        amount = credit.amount_cents
        total = sum(i.balance_cents for i in invoices)
        reasons = list(ref_reasons)
        payer_agrees = bool(payer.client_ids & ref_clients)
        payer_conflicts = payer.certain and not payer_agrees
        if payer.reason:
            reasons.append(payer.reason)
        base = 60 if strong else 40
        base += 20 if payer_agrees and payer.how in ("iban", "name") else 12 if payer_agrees else 0
        if not payer.client_ids:
            reasons.append("payer unknown: paid for the client by someone else")
        corroborated = strong or payer_agrees

        def done(status, allocations, score, extra):
            return Decision(
                credit,
                status,
                allocations,
                min(score, 100),
                reasons + extra,
                [Candidate(allocations, min(score, 100), reasons + extra)] if status == SUGGESTED else [],
            )

        if amount == total:
            allocs = [Allocation(i.id, i.number, i.balance_cents) for i in invoices]
            extra = [
                f"amount equals balance {fmt(total)}"
                if len(invoices) == 1
                else f"amount equals the sum of {len(invoices)} named invoices {fmt(total)}"
            ]
            score = base + 20
            if payer_conflicts:
                return done(SUGGESTED, allocs, 70, [*extra, "but the payer is another client"])
            return done(MATCHED if corroborated else SUGGESTED, allocs, score, extra)
        gap = total - amount
        if 0 < gap <= cfg.fee_tolerance(total):
            allocs = self._spread_with_fee(invoices, amount, gap)
            extra = [f"shortfall {fmt(gap)} within the bank-fee tolerance ({cfg.fee_policy})"]
            if payer_conflicts or not corroborated:
                return done(SUGGESTED, allocs, 65, extra)
            return done(MATCHED, allocs, base + 12, extra)
        if 0 < -gap <= cfg.overpayment_tolerance_cents:
            allocs = [Allocation(i.id, i.number, i.balance_cents) for i in invoices]
            extra = [f"overpayment {fmt(-gap)} left unapplied"]
            if payer_conflicts or not corroborated:
                return done(SUGGESTED, allocs, 65, extra)
            return done(MATCHED, allocs, base + 10, extra)
        client_open = self._open_of(ref_clients)
        if amount > total:
            # The reference names some invoices; the transfer pays them and others of the same client.
            combos = [
                c
                for c in self._subset_sums(client_open, amount, {i.id for i in invoices})
                if len(c) > len(invoices)
            ]
            if combos:
                best = combos[0]
                allocs = [Allocation(i.id, i.number, i.balance_cents) for i in best]
                extra = [
                    f"amount equals the named invoice(s) plus {len(best) - len(invoices)} other open "
                    f"invoice(s) of the client {fmt(amount)}"
                ]
                if len(combos) == 1 and corroborated and not payer_conflicts:
                    return done(MATCHED, allocs, base + 8, extra)
                return done(SUGGESTED, allocs, 60, extra)
            allocs = [Allocation(i.id, i.number, i.balance_cents) for i in invoices]
            return done(
                SUGGESTED, allocs, 45, [f"amount {fmt(amount)} exceeds the named balance {fmt(total)}"]
            )
        # amount < total: an instalment on the named invoice(s), oldest first
        allocs = self._spread(invoices, amount)
        extra = [f"partial payment {fmt(amount)} of {fmt(total)}, the rest stays open"]
        # The reference may be a typo: the amount equals another open invoice of the same client exactly.
        exact_other = [i for i in client_open if i.balance_cents == amount and i not in invoices]
        if exact_other:
            alt = exact_other[0]
            extra.append(f"but {alt.number} has exactly this balance")
            cands = [
                Candidate(
                    [Allocation(alt.id, alt.number, amount)], 60, [f"amount equals balance of {alt.number}"]
                ),
                Candidate(allocs, 55, reasons + extra),
            ]
            return Decision(credit, SUGGESTED, [], 55, reasons + extra, cands)
        if strong and not payer_conflicts and (payer_agrees or len(invoices) == 1):
            return done(MATCHED, allocs, base + 5, extra)
        return done(SUGGESTED, allocs, 50, extra)

    def _spread(self, invoices, amount) -> list[Allocation]:
        allocs, left = [], amount
        for inv in invoices:
            if left <= 0:
                break
            part = min(left, inv.balance_cents)
            allocs.append(Allocation(inv.id, inv.number, part))
            left -= part
        return allocs

    def _spread_with_fee(self, invoices, amount, gap) -> list[Allocation]:
        """Every invoice fully paid but the newest, which takes the shortfall (written off or left open)."""
        allocs = [Allocation(i.id, i.number, i.balance_cents) for i in invoices]
        last = allocs[-1]
        last.amount_cents -= gap
        if self.config.fee_policy == FEE_WRITE_OFF:
            last.write_off_cents = gap
        return [a for a in allocs if a.amount_cents > 0]

    def _decide_by_payer(self, credit, payer) -> Decision:
        cfg = self.config
        amount = credit.amount_cents
        reasons = [payer.reason]
        open_invoices = [
            i
            for i in self._open_of(payer.client_ids)
            if not (credit.settled_on and i.issue_date and i.issue_date > credit.settled_on)
        ]
        if not open_invoices:
            return Decision(credit, UNMATCHED, score=20, reasons=[*reasons, "the client has no open invoice"])
        sure = payer.certain or (payer.how == "fuzzy" and payer.fuzzy_score >= cfg.fuzzy_accept)
        one_client = len(payer.client_ids) == 1
        auto = sure and one_client
        pts = 45 if payer.how == "iban" else 40 if payer.certain else 30 if payer.how == "fuzzy" else 15

        def decide(allocs, score, extra, alternatives=()):
            cands = [Candidate(allocs, score, reasons + extra), *alternatives]
            if auto:
                return Decision(credit, MATCHED, allocs, score, reasons + extra)
            return Decision(credit, SUGGESTED, [], min(score, 79), reasons + extra, cands[:3])

        exact = [i for i in open_invoices if i.balance_cents == amount]
        if exact:
            inv = exact[0]
            allocs = [Allocation(inv.id, inv.number, amount)]
            extra = [f"amount equals balance {fmt(amount)} of {inv.number}"]
            if len(exact) > 1:
                extra.append(f"{len(exact)} open invoices of this amount: the oldest is paid first")
            older = [i for i in open_invoices if i.sort_key < inv.sort_key]
            rivals = self._subset_sums(older, amount) if len(older) >= 2 else []
            if rivals:
                # Older invoices also add up to the amount: which ones were paid is a person's call.
                alt = rivals[0]
                extra.append(f"older invoices {', '.join(i.number for i in alt)} also add up to it")
                score = min(pts + 25, 79)
                return Decision(
                    credit,
                    SUGGESTED,
                    [],
                    score,
                    reasons + extra,
                    [
                        Candidate(allocs, score, reasons + extra),
                        Candidate(
                            [Allocation(i.id, i.number, i.balance_cents) for i in alt],
                            score - 5,
                            [*reasons, f"sum of {', '.join(i.number for i in alt)}"],
                        ),
                    ],
                )
            return decide(allocs, pts + 50, extra)
        combos = self._subset_sums(open_invoices, amount)
        if combos:
            shapes = {tuple(sorted(i.balance_cents for i in c)) for c in combos}
            best = combos[0]
            allocs = [Allocation(i.id, i.number, i.balance_cents) for i in best]
            extra = [
                f"amount equals the sum of {len(best)} open invoices ({', '.join(i.number for i in best)})"
            ]
            if len(shapes) == 1:
                if len(combos) > 1:
                    extra.append("equal amounts: the oldest are paid first")
                return decide(allocs, pts + 45, extra)
            alts = [
                Candidate(
                    [Allocation(i.id, i.number, i.balance_cents) for i in c],
                    pts + 30,
                    [f"sum of {', '.join(i.number for i in c)}"],
                )
                for c in combos[1:3]
            ]
            return Decision(
                credit,
                SUGGESTED,
                [],
                min(pts + 30, 79),
                [*reasons, *extra, f"{len(combos)} combinations fit"],
                [Candidate(allocs, min(pts + 30, 79), reasons + extra), *alts],
            )
        # bank fees: one invoice a little above the amount
        fee = [i for i in open_invoices if 0 < i.balance_cents - amount <= cfg.fee_tolerance(i.balance_cents)]
        over = [i for i in open_invoices if 0 < amount - i.balance_cents <= cfg.overpayment_tolerance_cents]
        # Near, not equal: only when no other open invoice of the client is close to the amount as well
        # (900.00 and 931.30 open, 903.36 paid: a discount or an overpayment, a person decides).
        near = [i for i in open_invoices if abs(i.balance_cents - amount) * 100 <= amount * NEAR_PERCENT]
        if (fee or over) and len({i.balance_cents for i in near}) > 1:
            cands = [
                Candidate(
                    self._spread_with_fee([i], amount, i.balance_cents - amount)
                    if i.balance_cents > amount
                    else [Allocation(i.id, i.number, i.balance_cents)],
                    min(pts + 20, 79),
                    [*reasons, f"{i.number} balance {fmt(i.balance_cents)} is close"],
                )
                for i in sorted(near, key=lambda i: abs(i.balance_cents - amount))[:3]
            ]
            return Decision(
                credit,
                SUGGESTED,
                [],
                min(pts + 20, 79),
                [*reasons, "several open invoices are close to the amount"],
                cands,
            )
        if fee:
            inv = fee[0]
            gap = inv.balance_cents - amount
            allocs = self._spread_with_fee([inv], amount, gap)
            extra = [
                f"{inv.number} balance {fmt(inv.balance_cents)}: shortfall {fmt(gap)} within the bank-fee "
                f"tolerance ({cfg.fee_policy})"
            ]
            if len({i.balance_cents for i in fee}) > 1:
                return Decision(
                    credit,
                    SUGGESTED,
                    [],
                    min(pts + 25, 79),
                    reasons + extra,
                    [Candidate(allocs, min(pts + 25, 79), reasons + extra)],
                )
            return decide(allocs, pts + 40, extra)
        if over:
            inv = over[0]
            allocs = [Allocation(inv.id, inv.number, inv.balance_cents)]
            extra = [f"overpayment {fmt(amount - inv.balance_cents)} on {inv.number} left unapplied"]
            if len({i.balance_cents for i in over}) > 1:
                return Decision(
                    credit,
                    SUGGESTED,
                    [],
                    min(pts + 20, 79),
                    reasons + extra,
                    [Candidate(allocs, min(pts + 20, 79), reasons + extra)],
                )
            return decide(allocs, pts + 38, extra)
        # an instalment: less than the only open invoice, and a plain fraction of it
        if amount < open_invoices[0].balance_cents:
            inv = open_invoices[0]
            allocs = [Allocation(inv.id, inv.number, amount)]
            extra = [f"partial payment {fmt(amount)} of {inv.number} ({fmt(inv.balance_cents)} due)"]
            fraction = next(
                (k for k in (2, 3, 4, 5, 6, 10, 12) if abs(inv.total_cents - amount * k) <= k), None
            )
            # Only an invoice already being paid in instalments: a first partial payment without a
            # reference may as well be a deposit on an order not invoiced yet.
            if len(open_invoices) == 1 and fraction and inv.balance_cents < inv.total_cents:
                extra.append(f"amount is 1/{fraction} of the invoice: an instalment")
                return decide(allocs, pts + 35, extra)
            return Decision(
                credit,
                SUGGESTED,
                [],
                min(pts + 20, 79),
                reasons + extra,
                [Candidate(allocs, min(pts + 20, 79), reasons + extra)],
            )
        cands = self._client_candidates(credit, payer, reasons)
        status = SUGGESTED if cands else UNMATCHED
        return Decision(
            credit,
            status,
            [],
            30 if cands else 20,
            [*reasons, "no open invoice of the client fits the amount"],
            cands,
        )

    def _client_candidates(self, credit, payer, reasons) -> list[Candidate]:
        """The oldest open invoices of the payer's client as a person would look at them."""
        out = []
        left = credit.amount_cents
        for inv in self._open_of(payer.client_ids)[:3]:
            part = min(left, inv.balance_cents)
            if part <= 0:
                break
            out.append(
                Candidate(
                    [Allocation(inv.id, inv.number, part)],
                    30,
                    [*reasons, f"oldest open invoice {inv.number} ({fmt(inv.balance_cents)} due)"],
                )
            )
        return out

    def _decide_unknown(self, credit, payer, non_invoice) -> Decision:
        amount = credit.amount_cents
        reasons = []
        if non_invoice:
            reasons.append(f"looks like a credit that pays no invoice ({', '.join(sorted(non_invoice))})")
        if payer.reason:
            reasons.append(payer.reason)
        same_amount = [i for i in self.by_amount.get(amount, ()) if i.balance_cents == amount]
        cands = []
        if same_amount and not non_invoice:
            name = clean_payer_name(credit.counterparty or credit.label)
            for inv in same_amount[:20]:
                client = self.clients.get(inv.client_id)
                if client is None:
                    continue
                sim = max(
                    (
                        fuzz.ratio(squash(name), squash(_normalized(n)))
                        for n in [client.name, *client.other_names]
                    ),
                    default=0,
                )
                if sim >= 50:
                    cands.append(
                        Candidate(
                            [Allocation(inv.id, inv.number, amount)],
                            int(sim * 0.6),
                            [
                                f"amount equals balance of {inv.number} ({client.name})",
                                f"payer name similar to {client.name} ({sim:.0f})",
                            ],
                        )
                    )
            cands.sort(key=lambda c: -c.score)
        if cands:
            return Decision(
                credit, SUGGESTED, [], cands[0].score, [*reasons, "payer not identified"], cands[:3]
            )
        return Decision(
            credit, UNMATCHED, [], 0, reasons or ["no reference, payer and amount not recognised"]
        )

    # ---- booking

    def apply(self, decision: Decision) -> None:
        """Book a matched decision into the in-memory balances (and learn nothing: people teach names)."""
        if decision.status != MATCHED:
            return
        for alloc in decision.allocations:
            inv = self.invoices[alloc.invoice_id]
            inv.balance_cents -= alloc.amount_cents + alloc.write_off_cents

    def run(self, credits) -> list[Decision]:
        """Decide every credit, oldest first, booking each match before the next is looked at."""
        decisions = []
        for credit in sorted(credits, key=lambda c: (c.settled_on or dt.date.min, c.id)):
            decision = self.decide(credit)
            self.apply(decision)
            decisions.append(decision)
        return decisions


@functools.lru_cache(maxsize=200_000)
def _normalized(name: str) -> str:
    return normalize_company_name(name)


def _norm_iban(iban: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", (iban or "").upper())


def _block_keys(name: str) -> set[str]:
    """Keys under which a name is found for fuzzy scoring: its words, and the ends of the squashed name."""
    sq = squash(name)
    keys = {f"w:{w}" for w in name.split() if len(w) >= 3}
    if len(sq) >= 4:
        keys |= {f"p:{sq[:4]}", f"s:{sq[-4:]}"}
    return keys


def _non_invoice_words(text: str) -> set[str]:
    return set(fold(text).split()) & NON_INVOICE_WORDS
