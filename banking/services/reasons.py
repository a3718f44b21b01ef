"""Why a credit was matched, suggested or left: stored as codes with their values, read in French.

A reason is stored as ``{"code": "fit_over", "excess": "400.00"}`` (amounts as plain decimal text), so
the words can change without touching the data; :func:`reason_text` renders it for a person:
« 400,00 € de trop, portés au crédit du client (trop-perçu) ». Reasons written before codes existed are
plain strings and are shown as they are.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from banking.services.verdicts import VERDICT_TEXTS
from syaga.core.money import format_eur

# Values rendered as money (stored as "1234.56").
MONEY_KEYS = frozenset({"amount", "balance", "total", "excess", "gap", "paid"})

TEXTS: dict[str, str] = {
    # what the reference says
    "ref_invoice": "la référence cite {invoice}",
    "ref_rf": "la référence RF {rf} est celle de {invoice}",
    "ref_digits": "la référence contient les chiffres de {invoice}, sans « F » ni « facture »",
    "ref_listed": "la référence énumère {invoices}",
    "ref_paid": "la référence cite {invoices}, déjà réglée(s)",
    "ref_digits_ignored": "les chiffres de la référence ne sont pas pris pour un numéro de facture",
    # who pays
    "payer_iban": "IBAN du payeur confirmé pour {client}",
    "payer_name": "le payeur « {name} » est {client}",
    "payer_fuzzy": "le payeur « {name} » ressemble à « {match} » ({score} %, le suivant {runner_up} %)",
    "payer_truncated": "le payeur « {name} » est le début de {client} (nom coupé par la banque)",
    "payer_third": "payeur inconnu : un tiers paie pour le client",
    "payer_unknown": "payeur non identifié",
    "non_invoice": "le libellé est celui d'un crédit qui ne paie pas de facture ({words})",
    # how the amount fits
    "fit_exact": "montant égal au solde de {invoice} ({amount})",
    "fit_named_total": "montant égal au total des {count} factures citées ({amount})",
    "fit_sum": "montant égal à la somme de {count} factures ouvertes ({invoices})",
    "fit_sum_more": "montant égal aux factures citées plus {count} autre(s) facture(s) du client ({amount})",
    "fit_sums": "{count} combinaisons de factures font ce montant",
    "fit_oldest_first": "plusieurs factures de même montant : la plus ancienne est payée d'abord",
    "fit_rival": "les factures plus anciennes {invoices} font aussi ce montant",
    "fit_fee": "il manque {gap} sur {invoice} ({balance} dû) : frais bancaires, {policy}",
    "fit_over": "{excess} de trop, portés au crédit du client (trop-perçu)",
    "fit_excess": "montant {amount} supérieur au solde des factures citées ({total})",
    "fit_part": "paiement partiel de {amount} sur {invoice} ({balance} dû), le reste reste dû",
    "fit_parts": "paiement partiel de {amount} sur {total} dus, de la plus ancienne à la plus récente",
    "fit_typo": "mais {invoice} a exactement ce solde",
    "fit_instalment": "le montant est 1/{fraction} de {invoice} : une échéance",
    "fit_close": "plusieurs factures ouvertes du client sont proches du montant",
    "fit_close_one": "{invoice} ({balance} dû) est proche du montant",
    "fit_none": "aucune facture ouverte du client ne correspond au montant",
    "fit_no_open": "le client n'a aucune facture ouverte",
    "fit_oldest": "facture ouverte la plus ancienne du client : {invoice} ({balance} dû)",
    "fit_same_amount": "montant égal au solde de {invoice} ({client})",
    "fit_similar_name": "nom du payeur proche de {client} ({score} %)",
    "nothing": "ni référence, ni payeur, ni montant reconnus",
    # what a person decided
    "person_allocated": "affecté par {user}",
    "person_confirmed": "suggestion confirmée par {user}",
    "person_no_invoice": "« ne paie aucune facture » selon {user}",
    "person_undone": "décision annulée par {user} : {reason}",
    "client_credit": "{excess} portés au crédit de {client} (trop-perçu)",
}

FEE_POLICY_TEXTS = {"write_off": "l'écart est passé en perte", "leave_open": "l'écart reste dû"}


def reason(code: str, **values) -> dict:
    """A stored reason: its code and its values (Decimal amounts as plain text, the rest as given)."""
    return {"code": code, **{k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}}


def reason_text(stored) -> str:
    """The French sentence of a stored reason (a plain string, from before codes, is shown as it is)."""
    if isinstance(stored, str):
        return stored
    if not isinstance(stored, dict):
        return str(stored)
    code = stored.get("code", "")
    template = TEXTS.get(code) or VERDICT_TEXTS.get(code)
    if template is None:
        return code
    values = {k: _shown(k, v) for k, v in stored.items() if k != "code"}
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template


def reasons_text(stored_list) -> list[str]:
    return [reason_text(r) for r in stored_list or ()]


def _shown(key: str, value):
    if key in MONEY_KEYS:
        try:
            return format_eur(Decimal(str(value)))
        except (InvalidOperation, TypeError):
            return value
    if key == "policy":
        return FEE_POLICY_TEXTS.get(value, value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value
