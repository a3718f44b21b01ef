"""Names as people and banks write them: one normalisation for the whole project."""

import re
import unicodedata

# Legal forms and the words banks and people put around a company name.
LEGAL_FORMS = {
    "SA",
    "SAS",
    "SASU",
    "SARL",
    "EURL",
    "SNC",
    "SCI",
    "SCP",
    "SCM",
    "SCOP",
    "SELARL",
    "SELAS",
    "SEL",
    "GIE",
    "EI",
    "EIRL",
    "SCA",
    "SCS",
    "ASSOCIATION",
    "ASSO",
    "STE",
    "SOCIETE",
    "STE.",
    "ETS",
    "ETABLISSEMENTS",
    "ETABLISSEMENT",
    "CIE",
    "GMBH",
    "LTD",
    "LLC",
    "INC",
    "SPRL",
    "BV",
    "NV",
    "AG",
}


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def fold(text: str) -> str:
    """Upper case, no accents, punctuation turned into single spaces."""
    text = strip_accents(text or "").upper()
    text = re.sub(r"[^A-Z0-9]+", " ", text)
    return text.strip()


def normalize_company_name(name: str) -> str:
    """The key a client is found by: case, accents, punctuation and legal form ignored.

    ``"Société Pharmabest S.A.R.L."`` and ``"PHARMABEST"`` both give ``"PHARMABEST"``.
    """
    folded = fold(name)
    # "S.A.R.L." folds to "S A R L": glue runs of single letters back together before dropping forms.
    folded = re.sub(r"\b(?:[A-Z] ){1,4}[A-Z]\b", lambda m: m.group(0).replace(" ", ""), folded)
    words = [w for w in folded.split() if w not in LEGAL_FORMS]
    if not words:  # a name that is only a legal form: keep it rather than lose it
        words = folded.split()
    return " ".join(words)


def header_key(text: str) -> str:
    """A column header reduced to letters and digits, for alias matching (``N° facture`` -> ``nfacture``)."""
    return re.sub(r"[^a-z0-9]", "", strip_accents(text or "").lower())


def postal_address(line1: str, line2: str, postal_code: str, city: str) -> str:
    """An address as printed, one line each, empty parts left out: ``12 rue X\n13001 Marseille``."""
    lines = [line1, line2, f"{postal_code} {city}".strip()]
    return "\n".join(line for line in lines if line)
