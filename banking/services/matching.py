"""Which open invoices a credit transfer pays: a pure decision engine over in-memory snapshots.

Nothing here touches the database. :class:`Matcher` is built once from the open invoices, the clients
(names and aliases) and the payer identities learned from confirmations, then :meth:`Matcher.decide` is
called for each credit, oldest first, and :meth:`Matcher.apply` books the allocations of a decision into
the in-memory balances so that the next credit sees what is still open (instalments, oldest first).

A decision is made in three steps, precision first (a wrong automatic match is far worse than none):

1. **Evidence** (:meth:`Matcher.evidence`): the invoice numbers and RF references the texts name
   (:mod:`banking.services.reading`), and the payer: an IBAN learned from a confirmation, the exact
   normalised name of a client, alias or learned payer, a name cut by the bank, or a fuzzy name accepted
   only above a threshold and by a margin over the runner-up.
2. **Proposals**: ways the credit could pay invoices (the named ones, or the payer's open invoices: one
   balance, a bounded subset sum, bank fees, a small overpayment, an instalment), each described by
   its evidence (reference, payer, amount fit, :mod:`banking.services.verdicts`).
3. **Verdict**: the first proposal is looked up in the verdict table, whose rows say *matched*,
   *suggested* or *not recognised*, with a score and a reason in French; the other proposals are
   alternatives a person may pick. An excess over the invoices paid is never dropped: it goes with the
   decision (``excess_cents``) and becomes a credit of the client.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from rapidfuzz import fuzz, process

from banking.services.reading import (
    block_keys,
    clean_payer_name,
    find_invoice_numbers_folded,
    find_rf_references,
    folded_length,
    invoice_rf_reference,
    non_invoice_words,
    norm_iban,
    normalized,
    squash,
)
from banking.services.reasons import reason
from banking.services.verdicts import AUTOMATIC_MIN_SCORE, Fit, Payer, Ref, Verdict, verdict_for
from syaga.core.money import quantize
from syaga.core.text import fold

MATCHED = Verdict.MATCHED.value
SUGGESTED = Verdict.SUGGESTED.value
UNRECOGNISED = Verdict.UNRECOGNISED.value
SUGGESTION_MAX_SCORE = AUTOMATIC_MIN_SCORE - 1

FEE_WRITE_OFF = "write_off"
FEE_LEAVE_OPEN = "leave_open"

__all__ = ["invoice_rf_reference"]  # re-exported: the labelled set and the tests print RF references


def to_cents(amount: Decimal) -> int:
    """The amount in whole cents, rounded by :func:`quantize` (stored amounts have two decimals: exact)."""
    return int(quantize(amount) * 100)


def from_cents(cents: int) -> Decimal:
    return quantize(Decimal(cents) / 100)


# --------------------------------------------------------------------------------------------- snapshots


@dataclass(slots=True)
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


@dataclass(slots=True)
class ClientSnapshot:
    id: int
    name: str
    other_names: list[str] = field(default_factory=list)  # aliases and learned payer names


@dataclass(slots=True)
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


@dataclass(slots=True)
class Allocation:
    invoice_id: int
    number: str
    amount_cents: int
    write_off_cents: int = 0

    def as_json(self) -> dict:
        return {
            "invoice_id": self.invoice_id,
            "invoice": self.number,
            "amount": str(from_cents(self.amount_cents)),
            "write_off": str(from_cents(self.write_off_cents)),
        }


@dataclass(slots=True)
class Candidate:
    """A way of paying for a person to confirm: the allocations, and any excess as a client credit."""

    allocations: list[Allocation]
    score: int
    reasons: list[dict]
    excess_cents: int = 0
    excess_client_id: int | None = None

    def as_json(self) -> dict:
        return {
            "allocations": [a.as_json() for a in self.allocations],
            "excess": str(from_cents(self.excess_cents)),
            "excess_client_id": self.excess_client_id,
            "score": self.score,
            "reasons": self.reasons,
        }


@dataclass(slots=True)
class Decision:
    credit: CreditSnapshot
    status: str
    allocations: list[Allocation] = field(default_factory=list)
    score: int = 0
    reasons: list[dict] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    excess_cents: int = 0  # of a matched credit: more than its invoices, kept as a client credit
    excess_client_id: int | None = None


@dataclass(frozen=True)
class MatchingConfig:
    """The matcher's named thresholds (amounts in cents)."""

    fee_tolerance_cents: int = 200  # a shortfall up to this is bank fees
    fee_tolerance_percent: Decimal = Decimal("0.5")  # ... or up to this share of the balance, if larger
    fee_policy: str = FEE_WRITE_OFF  # or FEE_LEAVE_OPEN: the invoice stays partially paid
    overpayment_tolerance_cents: int = 500  # an excess up to this goes with any sure match
    named_overpayment_cents: int = 5000  # up to this when the reference names the invoice, payer known
    fuzzy_accept: float = 88.0  # a fuzzy name below this is never "the payer"
    fuzzy_margin: float = 6.0  # ... and must beat the next client by this much
    fuzzy_suggest: float = 70.0  # a resemblance from here is worth a suggestion
    fuzzy_key_max: int = 500  # a name word (or end) shared by more clients is no clue to the payer
    similar_name_min: float = 50.0  # unknown payer: a same-amount invoice is shown from this resemblance
    near_percent: int = 5  # open invoices within this share of a transfer compete when none is exact
    truncation_min_length: int = 30  # a label this long may have been cut by the bank
    instalment_fractions: tuple[int, ...] = (2, 3, 4, 5, 6, 10, 12)
    subset_max_invoices: int = 40  # oldest open invoices of a client tried in a combination
    subset_max_size: int = 4

    def fee_tolerance(self, balance_cents: int) -> Decimal:
        """The largest shortfall, in cents, taken as bank fees on this balance.

        Not rounded: it only bounds whole-cent shortfalls, and ``gap <= x`` is ``gap <= floor(x)`` for a
        whole number of cents, so the bound holds exactly as the truncated figure did.
        """
        by_share = Decimal(balance_cents) * self.fee_tolerance_percent / 100
        return max(Decimal(self.fee_tolerance_cents), by_share)


# ---------------------------------------------------------------------------------------------- evidence


@dataclass(slots=True)
class PayerId:
    """Who pays, as far as the texts and the learned identities tell."""

    client_ids: frozenset[int] = frozenset()
    strength: Payer = Payer.THIRD  # CERTAIN, PROBABLE or WEAK when client_ids is not empty
    reason: dict | None = None

    def towards(self, clients: set[int]) -> Payer:
        """The payer seen from invoices of ``clients``: theirs (how sure), another client's, or a third."""
        if not self.client_ids:
            return Payer.THIRD
        if self.client_ids & clients:
            return self.strength
        return Payer.OTHER if self.strength == Payer.CERTAIN else Payer.THIRD


@dataclass(slots=True)
class Evidence:
    ref: Ref
    invoices: list[OpenInvoice]  # what the reference names (NAMED, LISTED, DIGITS), oldest first
    payer: PayerId
    non_invoice: set[str]
    reasons: list[dict]


@dataclass(slots=True)
class Proposal:
    """One way of paying invoices with the credit, with the evidence the verdict table reads."""

    ref: Ref
    payer: Payer
    fit: Fit
    allocations: list[Allocation]
    reasons: list[dict]
    excess_cents: int = 0
    excess_client_id: int | None = None


def _full(invoices) -> list[Allocation]:
    return [Allocation(i.id, i.number, i.balance_cents) for i in invoices]


def _money(cents: int) -> Decimal:
    return from_cents(cents)


# ------------------------------------------------------------------------------------------------ matcher


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
            self.iban_clients[norm_iban(iban)].add(client_id)
        # name -> clients, with the exact and the squashed spelling
        self.name_clients: dict[str, set[int]] = defaultdict(set)
        self.squashed_clients: dict[str, set[int]] = defaultdict(set)
        self.token_index: dict[str, set[str]] = defaultdict(set)
        self.squashed_name: dict[str, str] = {}
        for c in clients:
            for raw in [c.name, *c.other_names]:
                # the registered spelling and the one cleaned like a bank label
                # ("DUPONT ET FILS" -> "DUPONT FILS")
                for name in {normalized(raw), clean_payer_name(raw)}:
                    if not name:
                        continue
                    self.name_clients[name].add(c.id)
                    self.squashed_name[name] = squash(name)
                    self.squashed_clients[self.squashed_name[name]].add(c.id)
                    for key in block_keys(name):
                        self.token_index[key].add(name)
        self.sorted_names = sorted(self.name_clients)  # bisected for the names a cut label starts
        self._fuzzy_cache: dict[str, list[tuple[str, float]]] = {}

    # ---- the run

    def run(self, credits) -> list[Decision]:
        """Decide every credit, oldest first, booking each match before the next is looked at."""
        return list(self.iter_run(credits))

    def iter_run(self, credits):
        for credit in sorted(credits, key=lambda c: (c.settled_on or dt.date.min, c.id)):
            decision = self.decide(credit)
            self.apply(decision)
            yield decision

    def apply(self, decision: Decision) -> None:
        """Book a matched decision into the in-memory balances (and learn nothing: people teach names)."""
        if decision.status != MATCHED:
            return
        for alloc in decision.allocations:
            inv = self.invoices[alloc.invoice_id]
            inv.balance_cents -= alloc.amount_cents + alloc.write_off_cents

    def decide(self, credit: CreditSnapshot) -> Decision:
        ev = self.evidence(credit)
        if ev.ref in (Ref.NAMED, Ref.LISTED):  # a reference that names invoices decides
            return self._conclude(credit, ev, self._named_proposals(credit, ev))
        if ev.ref == Ref.PAID:
            return self._conclude(credit, ev, self._oldest_proposals(credit, ev, Ref.PAID))
        if ev.payer.client_ids and not ev.non_invoice:
            by_payer = self._payer_proposals(credit, ev)
        elif ev.ref == Ref.NONE and not ev.non_invoice:
            by_payer = self._stranger_proposals(credit, ev)
        else:
            by_payer = []
        if ev.ref == Ref.DIGITS:
            # Bare digits never decide: the payer and the amount may; otherwise the digits are suggested.
            decision = self._conclude(credit, ev, by_payer)
            if decision.status == MATCHED:
                decision.reasons.append(reason("ref_digits_ignored"))
                return decision
            return self._conclude(credit, ev, self._named_proposals(credit, ev) + by_payer)
        return self._conclude(credit, ev, by_payer)

    def _conclude(self, credit, ev: Evidence, proposals: list[Proposal]) -> Decision:
        """The first proposal's verdict decides; the others are alternatives a person may choose."""
        candidates = []
        for index, p in enumerate(proposals):
            row = verdict_for(p.ref, p.payer, p.fit)
            if index == 0 and row.verdict == Verdict.MATCHED:
                return Decision(
                    credit,
                    MATCHED,
                    p.allocations,
                    row.score,
                    [*ev.reasons, *p.reasons, reason(row.code)],
                    excess_cents=p.excess_cents,
                    excess_client_id=p.excess_client_id,
                )
            if row.verdict == Verdict.UNRECOGNISED or not p.allocations:
                continue
            cap = candidates[0].score if candidates else SUGGESTION_MAX_SCORE
            candidates.append(
                Candidate(
                    p.allocations,
                    min(row.score, cap),
                    [*p.reasons, reason(row.code)],
                    p.excess_cents,
                    p.excess_client_id,
                )
            )
        if candidates:
            best = candidates[0]
            return Decision(credit, SUGGESTED, [], best.score, [*ev.reasons, *best.reasons], candidates[:3])
        return Decision(credit, UNRECOGNISED, [], 0, ev.reasons or [reason("nothing")])

    # ---- evidence

    def evidence(self, credit: CreditSnapshot) -> Evidence:
        """What the texts name, who pays, and whether the words say it pays no invoice."""
        text = fold(" ".join(t for t in (credit.reference, credit.note, credit.label) if t))
        strong: dict[int, tuple[OpenInvoice, dict]] = {}
        weak: dict[int, tuple[OpenInvoice, dict]] = {}
        paid: list[str] = []
        for number, is_strong in find_invoice_numbers_folded(text, self.known_numbers):
            inv = self.by_number.get(number)
            if inv is not None and inv.balance_cents > 0:
                if is_strong:
                    strong[inv.id] = (inv, reason("ref_invoice", invoice=number))
                else:
                    weak.setdefault(inv.id, (inv, reason("ref_digits", invoice=number)))
            elif is_strong:  # bare digits naming a paid invoice are most likely a date or an order number
                paid.append(number)
        if "RF" in text:
            for rf in find_rf_references(text, self.rf_lengths, self.by_rf, folded=True):
                inv = self.by_rf[rf]
                if inv.balance_cents <= 0:
                    paid.append(inv.number)
                    continue
                # "RF55F20250012" also shows the bare digits 20250012: the RF makes that naming strong
                weak.pop(inv.id, None)
                strong[inv.id] = (inv, reason("ref_rf", rf=rf, invoice=inv.number))
        for inv_id in strong:
            weak.pop(inv_id, None)
        payer = self._payer(credit)
        reasons: list[dict] = []
        listed = sorted(
            [v[0] for v in strong.values()] + [v[0] for v in weak.values()], key=lambda i: i.sort_key
        )
        if weak and len(listed) >= 2 and sum(i.balance_cents for i in listed) == credit.amount_cents:
            ref, invoices = Ref.LISTED, listed
            reasons.append(reason("ref_listed", invoices=[i.number for i in listed]))
        elif strong:
            ref = Ref.NAMED
            invoices = sorted((v[0] for v in strong.values()), key=lambda i: i.sort_key)
            reasons += [v[1] for v in strong.values()]
        elif weak:
            ref = Ref.DIGITS
            invoices = sorted((v[0] for v in weak.values()), key=lambda i: i.sort_key)
            reasons += [v[1] for v in weak.values()]
        elif paid:
            ref, invoices = Ref.PAID, []
            reasons.append(reason("ref_paid", invoices=paid))
        else:
            ref, invoices = Ref.NONE, []
        non_invoice = non_invoice_words(text, folded=True)
        if non_invoice and ref in (Ref.NONE, Ref.DIGITS):
            reasons.append(reason("non_invoice", words=sorted(non_invoice)))
        if payer.reason:
            reasons.append(payer.reason)
        if not payer.client_ids:
            reasons.append(reason("payer_third" if ref in (Ref.NAMED, Ref.LISTED) else "payer_unknown"))
        return Evidence(ref, invoices, payer, non_invoice, reasons)

    def _payer(self, credit: CreditSnapshot) -> PayerId:
        iban = norm_iban(credit.iban)
        if iban and iban in self.iban_clients:
            ids = frozenset(self.iban_clients[iban])
            names = ", ".join(sorted(self.clients[i].name for i in ids if i in self.clients))
            return PayerId(ids, self._sure(ids), reason("payer_iban", client=names))
        for raw in (credit.counterparty, credit.label):
            name = clean_payer_name(raw)
            if not name:
                continue
            ids = self.name_clients.get(name) or self.squashed_clients.get(squash(name))
            if ids:
                names = ", ".join(sorted(self.clients[i].name for i in ids))
                return PayerId(frozenset(ids), self._sure(ids), reason("payer_name", name=name, client=names))
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
            best_ids = frozenset(self.name_clients[best_name])
            runner_up = next((s for n, s in ranked[1:] if self.name_clients[n] != best_ids), 0.0)
            why = reason("payer_fuzzy", name=name, match=best_name, score=int(best), runner_up=int(runner_up))
            cfg = self.config
            if best >= cfg.fuzzy_accept and best - runner_up >= cfg.fuzzy_margin and len(best_ids) == 1:
                return PayerId(best_ids, Payer.PROBABLE, why)
            if best >= cfg.fuzzy_suggest:
                return PayerId(best_ids, Payer.WEAK, why)
        return PayerId()

    @staticmethod
    def _sure(ids) -> Payer:
        return Payer.CERTAIN if len(ids) == 1 else Payer.WEAK

    def _truncated(self, raw: str) -> PayerId | None:
        """Banks cut long names (at 32 or 35 characters): a long label starting one client's name."""
        if folded_length(raw) < self.config.truncation_min_length:
            return None
        name = clean_payer_name(raw)
        words = name.split()
        if len(words) < 2 or len(words[0]) < 3:
            return None
        # an unfinished last word may be cut as well: compare on the complete words
        head = " ".join(words[:-1])
        ids = set()
        start = bisect.bisect_left(self.sorted_names, head)
        for n in itertools.islice(self.sorted_names, start, None):
            if not n.startswith(head):
                break
            if n != head and words[0] in n.split():
                ids |= self.name_clients[n]
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
        return PayerId(
            frozenset(ids), Payer.PROBABLE, reason("payer_truncated", name=name, client=client.name)
        )

    def _names_of(self, client_id: int) -> list[str]:
        c = self.clients[client_id]
        return [n for raw in [c.name, *c.other_names] for n in (normalized(raw), clean_payer_name(raw))]

    def _fuzzy(self, name: str) -> list[tuple[str, float]]:
        """Client names scored against ``name``, best first; only names sharing a block key are scored.

        A key shared by more than ``fuzzy_key_max`` names (a word half the clients have) identifies nobody
        and is left out, which also bounds the names scored for one payer whatever the number of clients.
        """
        if name in self._fuzzy_cache:
            return self._fuzzy_cache[name]
        pool: set[str] = set()
        for key in block_keys(name):
            names = self.token_index.get(key)
            if names and len(names) <= self.config.fuzzy_key_max:
                pool |= names
        ranked: list[tuple[str, float]] = []
        if pool:
            choices = list(pool)
            squashed = [self.squashed_name[c] for c in choices]
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

    # ---- proposals: the invoices the reference names

    def _named_proposals(self, credit, ev: Evidence) -> list[Proposal]:
        cfg = self.config
        invoices = ev.invoices
        clients = {i.client_id for i in invoices}
        one_client = next(iter(clients)) if len(clients) == 1 else None
        payer = ev.payer.towards(clients)

        def proposal(fit, allocations, why, excess=0):
            return Proposal(ev.ref, payer, fit, allocations, why, excess, one_client if excess else None)

        amount = credit.amount_cents
        total = sum(i.balance_cents for i in invoices)
        gap = total - amount
        if gap == 0:
            why = (
                reason("fit_exact", invoice=invoices[0].number, amount=_money(total))
                if len(invoices) == 1
                else reason("fit_named_total", count=len(invoices), amount=_money(total))
            )
            return [proposal(Fit.EXACT if len(invoices) == 1 else Fit.SUM, _full(invoices), [why])]
        if 0 < gap <= cfg.fee_tolerance(total):
            return [
                proposal(Fit.FEE, self._spread_with_fee(invoices, gap), [self._fee_reason(invoices, gap)])
            ]
        excess = -gap
        if 0 < excess <= cfg.overpayment_tolerance_cents and one_client:
            why = reason("fit_over", excess=_money(excess))
            return [proposal(Fit.OVER, _full(invoices), [why], excess)]
        client_open = self._open_of(clients)
        if excess > 0:
            # The reference names some invoices; the transfer may pay them and others of the same client.
            combos = [
                c
                for c in self._subset_sums(client_open, amount, {i.id for i in invoices})
                if len(c) > len(invoices)
            ]
            if combos:
                why = reason("fit_sum_more", count=len(combos[0]) - len(invoices), amount=_money(amount))
                if len(combos) == 1:
                    return [proposal(Fit.SUM_MORE, _full(combos[0]), [why])]
                return [
                    proposal(Fit.SUMS, _full(c), [why, reason("fit_sums", count=len(combos))])
                    for c in combos[:3]
                ]
            why = reason("fit_excess", amount=_money(amount), total=_money(total))
            if excess <= cfg.named_overpayment_cents and one_client:
                return [
                    proposal(
                        Fit.OVER_NAMED, _full(invoices), [reason("fit_over", excess=_money(excess))], excess
                    )
                ]
            return [proposal(Fit.EXCESS, _full(invoices), [why], excess)]
        # less than named: an instalment on the named invoice(s), oldest first
        allocs = self._spread(invoices, amount)
        why = (
            reason("fit_part", amount=_money(amount), invoice=invoices[0].number, balance=_money(total))
            if len(invoices) == 1
            else reason("fit_parts", amount=_money(amount), total=_money(total))
        )
        # The reference may be a typo: the amount equals another open invoice of the same client exactly.
        other = next((i for i in client_open if i.balance_cents == amount and i not in invoices), None)
        if other is not None:
            return [
                proposal(Fit.TYPO, allocs, [why, reason("fit_typo", invoice=other.number)]),
                Proposal(
                    Ref.NONE,
                    payer,
                    Fit.EXACT,
                    [Allocation(other.id, other.number, amount)],
                    [reason("fit_exact", invoice=other.number, amount=_money(amount))],
                ),
            ]
        return [proposal(Fit.PART if len(invoices) == 1 else Fit.PARTS, allocs, [why])]

    # ---- proposals: the payer's open invoices

    def _payer_proposals(self, credit, ev: Evidence) -> list[Proposal]:
        cfg = self.config
        amount = credit.amount_cents
        payer = ev.payer.strength
        open_invoices = [
            i
            for i in self._open_of(ev.payer.client_ids)
            if not (credit.settled_on and i.issue_date and i.issue_date > credit.settled_on)
        ]
        if not open_invoices:
            ev.reasons.append(reason("fit_no_open"))
            return []

        def proposal(fit, allocations, why, excess=0, client_id=None):
            return Proposal(Ref.NONE, payer, fit, allocations, why, excess, client_id if excess else None)

        exact = [i for i in open_invoices if i.balance_cents == amount]
        if exact:
            inv = exact[0]
            why = [reason("fit_exact", invoice=inv.number, amount=_money(amount))]
            if len(exact) > 1:
                why.append(reason("fit_oldest_first"))
            older = [i for i in open_invoices if i.sort_key < inv.sort_key]
            rivals = self._subset_sums(older, amount) if len(older) >= 2 else []
            if rivals:
                # Older invoices also add up to the amount: which ones were paid is a person's call.
                alt = rivals[0]
                return [
                    proposal(
                        Fit.RIVAL, _full([inv]), [*why, reason("fit_rival", invoices=[i.number for i in alt])]
                    ),
                    proposal(
                        Fit.SUM,
                        _full(alt),
                        [reason("fit_sum", count=len(alt), invoices=[i.number for i in alt])],
                    ),
                ]
            return [proposal(Fit.EXACT, _full([inv]), why)]
        combos = self._subset_sums(open_invoices, amount)
        if combos:
            shapes = {tuple(sorted(i.balance_cents for i in c)) for c in combos}
            sums = [
                proposal(Fit.SUM, _full(c), [reason("fit_sum", count=len(c), invoices=[i.number for i in c])])
                for c in combos[:3]
            ]
            if len(shapes) == 1:
                if len(combos) > 1:
                    sums[0].reasons.append(reason("fit_oldest_first"))
                return sums[:1]
            sums[0].fit = Fit.SUMS
            sums[0].reasons.append(reason("fit_sums", count=len(combos)))
            return sums
        fee = [i for i in open_invoices if 0 < i.balance_cents - amount <= cfg.fee_tolerance(i.balance_cents)]
        over = [i for i in open_invoices if 0 < amount - i.balance_cents <= cfg.overpayment_tolerance_cents]
        # Near, not equal: only when no other open invoice of the client is close to the amount as well
        # (900.00 and 931.30 open, 903.36 paid: a discount or an overpayment, a person decides).
        near = [i for i in open_invoices if abs(i.balance_cents - amount) * 100 <= amount * cfg.near_percent]
        several = (fee or over) and len({i.balance_cents for i in near}) > 1
        if several or len({i.balance_cents for i in fee}) > 1 or len({i.balance_cents for i in over}) > 1:
            pool = sorted(near or fee or over, key=lambda i: abs(i.balance_cents - amount))[:3]
            close = [
                proposal(
                    Fit.CLOSE,
                    self._spread_with_fee([i], i.balance_cents - amount)
                    if i.balance_cents > amount
                    else _full([i]),
                    [reason("fit_close_one", invoice=i.number, balance=_money(i.balance_cents))],
                    max(0, amount - i.balance_cents),
                    i.client_id,
                )
                for i in pool
            ]
            close[0].reasons.insert(0, reason("fit_close"))
            return close
        if fee:
            inv = fee[0]
            gap = inv.balance_cents - amount
            return [proposal(Fit.FEE, self._spread_with_fee([inv], gap), [self._fee_reason([inv], gap)])]
        if over:
            inv = over[0]
            excess = amount - inv.balance_cents
            why = [reason("fit_exact", invoice=inv.number, amount=_money(inv.balance_cents))]
            return [
                proposal(
                    Fit.OVER,
                    _full([inv]),
                    [*why, reason("fit_over", excess=_money(excess))],
                    excess,
                    inv.client_id,
                )
            ]
        oldest = open_invoices[0]
        if amount < oldest.balance_cents:
            allocs = [Allocation(oldest.id, oldest.number, amount)]
            why = [
                reason(
                    "fit_part",
                    amount=_money(amount),
                    invoice=oldest.number,
                    balance=_money(oldest.balance_cents),
                )
            ]
            fraction = next(
                (k for k in cfg.instalment_fractions if abs(oldest.total_cents - amount * k) <= k), None
            )
            # Only an invoice already being paid in instalments: a first partial payment without a
            # reference may as well be a deposit on an order not invoiced yet.
            if len(open_invoices) == 1 and fraction and oldest.balance_cents < oldest.total_cents:
                why.append(reason("fit_instalment", fraction=fraction, invoice=oldest.number))
                return [proposal(Fit.INSTALMENT, allocs, why)]
            return [proposal(Fit.PART, allocs, why)]
        ev.reasons.append(reason("fit_none"))
        return self._oldest_proposals(credit, ev, Ref.NONE)

    def _oldest_proposals(self, credit, ev: Evidence, ref: Ref) -> list[Proposal]:
        """The payer's oldest open invoices as a person would look at them (any excess a client credit)."""
        out = []
        for inv in self._open_of(ev.payer.client_ids)[:3]:
            part = min(credit.amount_cents, inv.balance_cents)
            out.append(
                Proposal(
                    ref,
                    ev.payer.strength,
                    Fit.NONE,
                    [Allocation(inv.id, inv.number, part)],
                    [reason("fit_oldest", invoice=inv.number, balance=_money(inv.balance_cents))],
                    credit.amount_cents - part,
                    inv.client_id if credit.amount_cents > part else None,
                )
            )
        return out

    def _stranger_proposals(self, credit, ev: Evidence) -> list[Proposal]:
        """Unknown payer: open invoices of exactly this amount whose client's name resembles the payer's."""
        amount = credit.amount_cents
        name = squash(clean_payer_name(credit.counterparty or credit.label))
        found = []
        for inv in [i for i in self.by_amount.get(amount, ()) if i.balance_cents == amount][:20]:
            client = self.clients.get(inv.client_id)
            if client is None:
                continue
            similarity = max(
                fuzz.ratio(name, squash(normalized(n))) for n in [client.name, *client.other_names]
            )
            if similarity >= self.config.similar_name_min:
                found.append((similarity, inv, client))
        found.sort(key=lambda f: -f[0])
        return [
            Proposal(
                Ref.NONE,
                Payer.THIRD,
                Fit.EXACT,
                [Allocation(inv.id, inv.number, amount)],
                [
                    reason("fit_same_amount", invoice=inv.number, client=client.name),
                    reason("fit_similar_name", client=client.name, score=int(similarity)),
                ],
            )
            for similarity, inv, client in found[:3]
        ]

    # ---- helpers

    def _fee_reason(self, invoices, gap) -> dict:
        last = invoices[-1]
        return reason(
            "fit_fee",
            gap=_money(gap),
            invoice=last.number,
            balance=_money(last.balance_cents),
            policy=self.config.fee_policy,
        )

    def _open_of(self, client_ids) -> list[OpenInvoice]:
        rows = [inv for cid in client_ids for inv in self.by_client.get(cid, ()) if inv.balance_cents > 0]
        return sorted(rows, key=lambda i: i.sort_key)

    @staticmethod
    def _spread(invoices, amount) -> list[Allocation]:
        allocs, left = [], amount
        for inv in invoices:
            if left <= 0:
                break
            part = min(left, inv.balance_cents)
            allocs.append(Allocation(inv.id, inv.number, part))
            left -= part
        return allocs

    def _spread_with_fee(self, invoices, gap) -> list[Allocation]:
        """Every invoice fully paid but the newest, which takes the shortfall (written off or left open)."""
        allocs = _full(invoices)
        last = allocs[-1]
        last.amount_cents -= gap
        if self.config.fee_policy == FEE_WRITE_OFF:
            last.write_off_cents = gap
        return [a for a in allocs if a.amount_cents > 0]

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
