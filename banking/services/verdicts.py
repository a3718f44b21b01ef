"""The verdict table: what the evidence of a bank credit (reference, payer, amount) decides.

The matcher reads a credit into three pieces of evidence about one way of paying invoices (a proposal):

* **reference**: what the transfer's texts say (:class:`Ref`);
* **payer**: who pays, compared with the client of the proposed invoices (:class:`Payer`);
* **amount**: how the amount fits the proposed invoices (:class:`Fit`).

:func:`verdict_for` returns the first row of :data:`VERDICTS` that holds; each row says what follows
(applied automatically, suggested to a person, not recognised), a 0-100 score and why, in French. A
wrong automatic match costs far more than a suggestion: a row is automatic only when the evidence
leaves no real doubt. Automatic rows score at least :data:`AUTOMATIC_MIN_SCORE`, suggestions below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    MATCHED = "matched"  # applied by the machine
    SUGGESTED = "suggested"  # a person confirms
    UNRECOGNISED = "unrecognised"  # nothing plausible: a person allocates it or says it pays no invoice


class Ref(StrEnum):
    NAMED = "named"  # names open invoices: with an F, a word like FACTURE before, or an RF reference
    LISTED = "listed"  # lists several open invoices, some as bare digits, and their total is the amount
    DIGITS = "digits"  # only bare digits that happen to be an open invoice's number
    PAID = "paid"  # names only invoices already paid
    NONE = "none"  # names nothing: the payer and the amount decide


class Payer(StrEnum):
    CERTAIN = "certain"  # an IBAN learned from a confirmation, or the exact name of the invoices' client
    PROBABLE = "probable"  # a close name (above the fuzzy threshold, by a margin), or one cut by the bank
    WEAK = "weak"  # a resemblance, or a name several clients share
    THIRD = "third"  # nobody we know: an accountant or a parent company paying for the client
    OTHER = "other"  # certainly another client than the one of the invoices


class Fit(StrEnum):
    EXACT = "exact"  # one invoice's balance, or the named invoices' total
    SUM = "sum"  # the balances of several open invoices, one way only
    SUM_MORE = "sum_more"  # the named invoices plus other open invoices of the client, one way only
    SUMS = "sums"  # several combinations of different amounts fit
    RIVAL = "rival"  # one invoice's balance, but older invoices add up to it as well
    FEE = "fee"  # a little short, within the bank-fee tolerance
    OVER = "over"  # a little too much, within the overpayment tolerance: the excess is a client credit
    OVER_NAMED = "over_named"  # more, within the limit for a named invoice: the excess is a client credit
    EXCESS = "excess"  # more than the named invoices, unexplained
    PART = "part"  # less than the one named invoice: a partial payment
    PARTS = "parts"  # less than several named invoices: spread oldest first
    INSTALMENT = "instalment"  # a plain fraction of the client's only invoice, already being paid so
    TYPO = "typo"  # part of the named invoice, but another invoice of the client has exactly this balance
    CLOSE = "close"  # several open invoices of the client are close to the amount
    NONE = "none"  # nothing fits


ANY = None
KNOWN = frozenset({Payer.CERTAIN, Payer.PROBABLE})
NOT_OTHER = frozenset({Payer.CERTAIN, Payer.PROBABLE, Payer.WEAK, Payer.THIRD})
AGREES = frozenset({Payer.CERTAIN, Payer.PROBABLE, Payer.WEAK})
AUTOMATIC_MIN_SCORE = 80


@dataclass(frozen=True)
class Row:
    code: str
    ref: object  # a Ref, a set of them, or ANY
    payer: object
    fit: object
    verdict: Verdict
    score: int
    why: str

    def holds(self, ref: Ref, payer: Payer, fit: Fit) -> bool:
        return all(
            want is ANY or value == want or (isinstance(want, frozenset) and value in want)
            for want, value in ((self.ref, ref), (self.payer, payer), (self.fit, fit))
        )


M, S, U = Verdict.MATCHED, Verdict.SUGGESTED, Verdict.UNRECOGNISED
R, P, F = Ref, Payer, Fit


def _set(*values) -> frozenset:
    return frozenset(values)


# fmt: off
VERDICTS: tuple[Row, ...] = (
    # The reference names the invoices: it decides, whoever pays (an accountant, a parent company).
    Row("named_other_payer", R.NAMED, P.OTHER, ANY,                 S, 70,
        "la référence cite la facture d'un autre client que le payeur"),
    Row("named_exact",       R.NAMED, ANY, _set(F.EXACT, F.SUM),     M, 95,
        "la référence cite les factures payées et le montant est exact"),
    Row("named_fee",         R.NAMED, ANY, F.FEE,                   M, 90,
        "la référence cite la facture et l'écart est celui de frais bancaires"),
    Row("named_over",        R.NAMED, ANY, F.OVER,                  M, 90,
        "la référence cite la facture ; le petit excédent devient un crédit du client"),
    Row("named_sum_more",    R.NAMED, ANY, F.SUM_MORE,              M, 88,
        "la référence cite des factures ; le montant paie aussi, d'une seule façon, d'autres factures"),
    Row("named_over_known",  R.NAMED, KNOWN, F.OVER_NAMED,          M, 85,
        "la référence cite la facture, le payeur est le client ; l'excédent devient un crédit du client"),
    Row("named_part",        R.NAMED, NOT_OTHER, F.PART,            M, 85,
        "la référence cite la facture : paiement partiel, le reste reste dû"),
    Row("named_parts",       R.NAMED, AGREES, F.PARTS,              M, 85,
        "la référence cite les factures, le payeur est le client : paiement partiel, le reste reste dû"),
    Row("named_doubt",       R.NAMED, ANY, ANY,                     S, 55,
        "la référence cite des factures mais le montant ne s'explique pas d'une seule façon"),
    # Several invoices listed, some as bare digits: a total equal to the amount cannot be a coincidence.
    Row("listed_other",      R.LISTED, P.OTHER, ANY,                S, 60,
        "la référence énumère les factures d'un autre client que le payeur"),
    Row("listed_exact",      R.LISTED, ANY, _set(F.EXACT, F.SUM),   M, 90,
        "la référence énumère toutes les factures payées et le montant est exactement leur total"),
    # Bare digits alone may be a date or an order number: never decisive, the payer's rows come first.
    Row("digits_only",       R.DIGITS, ANY, ANY,                    S, 50,
        "des chiffres de la référence sont un numéro de facture, mais peut-être une date ou une commande"),
    Row("paid_named",        R.PAID, ANY, ANY,                      S, 40,
        "la référence cite une facture déjà réglée : un second paiement ?"),
    # No reference: a payer we know for sure and an amount that fits one way only.
    Row("payer_exact",       R.NONE, KNOWN, _set(F.EXACT, F.SUM),   M, 88,
        "payeur connu et montant égal au solde d'une seule façon"),
    Row("payer_fee",         R.NONE, KNOWN, F.FEE,                  M, 85,
        "payeur connu, il manque l'équivalent de frais bancaires sur une seule facture"),
    Row("payer_over",        R.NONE, KNOWN, F.OVER,                 M, 83,
        "payeur connu, une seule facture et un petit excédent qui devient un crédit du client"),
    Row("payer_instalment",  R.NONE, KNOWN, F.INSTALMENT,           M, 80,
        "payeur connu, échéance d'une facture déjà réglée par échéances"),
    Row("payer_rival",       R.NONE, ANY, F.RIVAL,                  S, 70,
        "le montant est celui d'une facture, mais des factures plus anciennes font aussi ce total"),
    Row("payer_weak",        R.NONE, AGREES, _set(F.EXACT, F.SUM, F.FEE, F.OVER, F.INSTALMENT), S, 65,
        "le montant correspond, mais le payeur n'est pas sûr"),
    Row("payer_choice",      R.NONE, ANY, _set(F.SUMS, F.CLOSE),    S, 60,
        "plusieurs factures du client peuvent correspondre : à choisir"),
    Row("payer_part",        R.NONE, ANY, F.PART,                   S, 50,
        "moins que la facture la plus ancienne : acompte ou paiement partiel, à confirmer"),
    Row("payer_open",        R.NONE, AGREES, F.NONE,                S, 30,
        "payeur reconnu, mais aucune facture ne correspond au montant"),
    Row("stranger",          R.NONE, P.THIRD, ANY,                  S, 30,
        "payeur inconnu : seul le montant rapproche cette facture"),
    # Anything else: nothing to go on.
    Row("nothing",           ANY, ANY, ANY,                         U, 0,
        "rien ne rattache ce crédit à une facture"),
)
# fmt: on

VERDICT_TEXTS: dict[str, str] = {row.code: row.why for row in VERDICTS}


def verdict_for(ref: Ref, payer: Payer, fit: Fit) -> Row:
    """The first row of :data:`VERDICTS` that holds for this evidence (the last row always does)."""
    return next(row for row in VERDICTS if row.holds(ref, payer, fit))
