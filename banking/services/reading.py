"""Reading a bank line: invoice numbers and RF references in its texts, the payer's name, words of credits
that pay no invoice. Pure functions over strings; nothing here knows a client or an invoice row."""

from __future__ import annotations

import functools
import re

from stdnum.iso7064 import mod_97_10

from syaga.core.text import fold, normalize_company_name

# In folded text (upper case, punctuation -> spaces): an optional "F", the year, the sequence.
_NUMBER_RE = re.compile(r"(?<![0-9])(?P<f>F ?)?(?P<year>20\d\d) ?(?P<seq>\d{1,6})(?![0-9])")
_KEYWORD_RE = re.compile(r"(?:FACTURES?|FACTS?|FACT|FAC|FCT|FA|INVOICE|INV|REF|N|NO|NUM|NUMERO)\s*$")
# After a number, more sequence numbers of the same year: "F2025-0012/0013 et 0015".
_CONTINUATION_RE = re.compile(r"\s+(?:ET\s+|AND\s+)?(\d{1,6})(?![0-9])")
_RF_RE = re.compile(r"RF\d\d")

# Words banks and payers put around a name.
BANK_WORDS = frozenset(
    {
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
)
# Credits that are not client payments, whatever their amount.
NON_INVOICE_WORDS = frozenset(
    {
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
)


@functools.lru_cache(maxsize=65_536)
def invoice_rf_reference(number: str) -> str:
    """The ISO 11649 creditor reference of an invoice number: ``F20250012`` -> ``RF55F20250012``."""
    ref = re.sub(r"[^0-9A-Z]", "", (number or "").upper())
    return "RF" + mod_97_10.calc_check_digits(ref + "RF") + ref


def find_invoice_numbers(text: str, known) -> list[tuple[str, bool]]:
    """Known invoice numbers named in ``text``, in order, each with whether the naming is strong.

    Strong: an ``F`` before the digits or a word like FACT/FACTURE/N° just before. Weak: bare digits that
    happen to be a known number (``20250012``), which a date or an order number can look like, and the
    sequence numbers listed after a number (``F2025-0012/0013``: 0013 of the same year, as many digits).
    """
    return find_invoice_numbers_folded(fold(text), known)


def find_invoice_numbers_folded(folded: str, known) -> list[tuple[str, bool]]:
    """:func:`find_invoice_numbers` of a text already :func:`~syaga.core.text.fold`-ed."""
    found: list[tuple[str, bool]] = []
    seen: set[str] = set()

    def keep(number: str, strong: bool) -> None:
        if number in known and number not in seen:
            seen.add(number)
            found.append((number, strong))

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
        strong = has_f or bool(_KEYWORD_RE.search(folded[max(0, m.start() - 12) : m.start()]))
        keep(f"F{m['year']}{seq.zfill(4)}", strong)
        end = m.end()
        while follow := _CONTINUATION_RE.match(folded, end):
            if len(follow[1]) != len(seq):
                break
            keep(f"F{m['year']}{follow[1].zfill(4)}", False)
            end = follow.end()
    return found


def find_rf_references(text: str, rf_lengths, known, *, folded: bool = False) -> list[str]:
    """Known ISO 11649 references in ``text`` (spaces anywhere, as they are printed in groups of four)."""
    squashed = re.sub(r"[^0-9A-Z]", "", text if folded else fold(text))
    found = []
    for m in _RF_RE.finditer(squashed):
        for length in rf_lengths:
            candidate = squashed[m.start() : m.start() + length]
            if candidate in known and candidate not in found:
                found.append(candidate)
    return found


@functools.lru_cache(maxsize=65_536)
def clean_payer_name(text: str) -> str:
    """A bank-written payer name reduced to what identifies the company (bank words, digits, forms out)."""
    words = [w for w in fold(text).split() if w not in BANK_WORDS and not any(c.isdigit() for c in w)]
    return normalize_company_name(" ".join(words))


@functools.lru_cache(maxsize=65_536)
def folded_length(text: str) -> int:
    return len(fold(text))


@functools.lru_cache(maxsize=65_536)
def normalized(name: str) -> str:
    return normalize_company_name(name)


def squash(name: str) -> str:
    return name.replace(" ", "")


def norm_iban(iban: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", (iban or "").upper())


def non_invoice_words(text: str, *, folded: bool = False) -> set[str]:
    return set((text if folded else fold(text)).split()) & NON_INVOICE_WORDS


def block_keys(name: str) -> set[str]:
    """Keys under which a name is found for fuzzy scoring: its words, and the ends of the squashed name."""
    sq = squash(name)
    keys = {f"w:{w}" for w in name.split() if len(w) >= 3}
    if len(sq) >= 4:
        keys |= {f"p:{sq[:4]}", f"s:{sq[-4:]}"}
    return keys
