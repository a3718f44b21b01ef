"""A labelled set of bank credits and open invoices, generated from a seed, for measuring the matcher.

Every credit carries its ground truth (the invoices it pays and how much to each, or nothing) and the case
it illustrates. The cases are the issue's: every way of typing an invoice number, RF references, names as
banks write them (upper case, legal form added or dropped, a letter missing, "STE …", truncated), aliases,
IBANs learned from a confirmation, accountants and parent companies paying with the invoice named,
several invoices in one transfer, instalments, bank fees, small overpayments, equal amounts (the oldest is
paid first), and credits that pay no invoice (refunds, interest, tax refunds, capital, private persons,
card refunds, a second payment of a paid invoice). Hard but real cases the matcher should only suggest
(a payer typo between two near-identical clients, a reference naming another client's invoice, an
unexplained discount) are included and count against recall.

The generator keeps its own balances and emits credits in date order, so the truth of an instalment or of
"the oldest of equal amounts" is the state a person would see on that day.

Two profiles: :data:`CASE_WEIGHTS` (the matcher was tuned on its seeds 1 and 20261121) and
:data:`CASE_WEIGHTS_V2`, the issue's unseen set (references listing every invoice a transfer pays, typed
every way, and small overpayments of a named invoice by a known payer). Seed 31415 of both was never tuned
on: it was looked at once, when the matcher was done.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from banking.services.matching import invoice_rf_reference

TRICKY_CLIENTS = [
    # (name, aliases)
    ("BEST SARL", []),
    ("PHARMABEST SARL", []),
    ("MARTIN", []),
    ("MARTIN TRANSPORTS SAS", []),
    ("DUPONT ET FILS", []),
    ("DUPONT SA", []),
    ("Cabinet Médical du Port", []),
    ("Cabinet Médical du Parc", []),
    ("ALPHA CONSEIL", []),
    ("ALPHA CONSEILS", []),
    ("Pharmacie du Centre", []),
    ("Garage du Centre SARL", []),
    ("Société Nouvelle des Transports Méditerranéens", ["SNTM"]),
    ("L'Atelier Numérique SAS", []),
    ("Boulangerie Marius", ["SARL MARIUS ET FILS"]),
    ("Les Jardins de Provence SCI", ["GROUPE JARDINS HOLDING"]),
    ("Clinique Vétérinaire des Calanques", ["CLINIQUE VETO CALANQUES"]),
    ("Hôtel Bellevue", ["SAS BELLEVUE EXPLOITATION"]),
    ("AXE IMMOBILIER", []),
    ("Électricité Générale Fabre", ["EGF"]),
]
FIRST = [
    "AZUR",
    "PROVENCE",
    "MISTRAL",
    "CALANQUE",
    "MASSILIA",
    "PHOCEA",
    "LUBERON",
    "VENTOUX",
    "CAMARGUE",
    "ESTEREL",
    "ALPILLES",
    "CANEBIERE",
    "GOLFE",
    "SAINTE VICTOIRE",
    "VIEUX PORT",
    "GARLABAN",
    "BAUMES",
]
SECOND = [
    "INFORMATIQUE",
    "BATIMENT",
    "SERVICES",
    "CONSEIL",
    "IMMOBILIER",
    "DISTRIBUTION",
    "LOGISTIQUE",
    "NETTOYAGE",
    "PLOMBERIE",
    "AUDIT",
    "EXPERTISE",
    "MEDICAL",
    "TRANSPORTS",
    "RESTAURATION",
]
FORMS = ["SAS", "SARL", "SA", "EURL", "SASU", ""]
ACCOUNTANTS = [
    "CABINET FIDUCIAIRE DUVAL",
    "EXPERTISE COMPTABLE ROUX ET ASSOCIES",
    "IN EXTENSO MARSEILLE",
    "FIDAL GESTION",
    "KPMG ENTREPRISES SUD",
]
PARENTS = ["HOLDING FINANCIERE DU MIDI", "GROUPE SUDINVEST", "FINANCIERE PROVENCALE HOLDING"]

REF_SPELLINGS = [
    "{n}",
    "{n}",
    "{F} {Y} {S}",
    "{F}{Y}-{S}",
    "FACT {Y}{S}",
    "facture n° {n}",
    "{lower}",
    "Facture {F}{Y}-{S}",
    "REGLEMENT FACTURE {n} MERCI",
    "VIR SEPA /REF {n}/CLIENT",
    "{F}{Y}.{S}",
    "{F}{Y}_{S}",
    "FACTURE {F}{Y} {s}",
    "Fact. N°{n} du mois",
    "paiement {lower} ",
    "NPY 4451209 {n}",
    "FACTURE N° {F}-{Y}-{S}",
]


@dataclass
class LClient:
    id: int
    name: str
    aliases: list[str] = field(default_factory=list)
    iban: str = ""


@dataclass
class LInvoice:
    id: int
    number: str
    client_id: int
    total_cents: int
    issue_date: dt.date
    due_date: dt.date
    balance_cents: int = 0


@dataclass
class LCredit:
    id: int
    transaction_id: str
    amount_cents: int
    label: str
    counterparty: str
    reference: str
    iban: str
    settled_on: dt.date
    case: str
    expected: list[tuple[str, int]]  # (invoice number, cents applied); [] = pays no invoice


@dataclass
class LabelledSet:
    clients: list[LClient]
    invoices: list[LInvoice]
    closed_numbers: dict[str, int]
    payer_ibans: list[tuple[str, int]]
    credits: list[LCredit]


# Share of each case among the credits (weights, not exact counts).
CASE_WEIGHTS = {
    "ref_exact": 24,
    "ref_rf": 4,
    "ref_accountant": 5,
    "ref_parent": 3,
    "ref_multi": 4,
    "ref_instalment": 4,
    "ref_fee": 4,
    "ref_overpay": 3,
    "name_exact": 12,
    "name_bank_variant": 10,
    "name_typo": 4,
    "alias": 4,
    "iban_learned": 5,
    "name_multi": 4,
    "name_equal_oldest": 4,
    "name_fee": 3,
    "name_overpay": 2,
    "name_instalment": 2,
    "non_invoice": 12,
    "double_payment": 1,
    # hard, should be suggested at best
    "client_advance": 2,
    "hard_twin_typo": 1,
    "hard_wrong_client_ref": 1,
    "hard_discount": 1,
}


# The issue's unseen set: the same cases plus what it found going to a person, references listing every
# invoice a transfer pays (typed every way, bare digits included, also by accountants) and small
# overpayments of a named invoice by a known payer. Its seeds are drawn apart from the ones above.
CASE_WEIGHTS_V2 = {**CASE_WEIGHTS, "ref_multi_listed": 8, "ref_overpay_known": 5}


def _iban(rng) -> str:
    return "FR76" + "".join(rng.choice("0123456789") for _ in range(23))


def _bank_name(rng, name: str, *, variant: bool) -> str:
    """The client's name as a bank writes it in the counterparty field."""
    from syaga.core.text import fold

    text = fold(name)
    if not variant:
        return text
    words = text.split()
    forms = {"SAS", "SARL", "SA", "EURL", "SASU", "SCI"}
    choice = rng.randrange(5)
    if choice == 0 and words[-1] in forms:
        words = words[:-1]  # legal form dropped
    elif choice == 1 and words[-1] not in forms:
        words.append(rng.choice(["SAS", "SARL"]))  # legal form added
    elif choice == 2:
        words.insert(0, rng.choice(["STE", "SOCIETE"]))
    elif choice == 3:
        return " ".join(words)[:32].strip()  # truncated by the bank
    else:
        words = [w.title() if rng.random() < 0.5 else w for w in words]
    return " ".join(words)


def _typo(rng, name: str) -> str:
    from syaga.core.text import fold

    words = fold(name).split()
    long = [i for i, w in enumerate(words) if len(w) >= 6]
    if not long:
        return " ".join(words)
    i = rng.choice(long)
    w = words[i]
    pos = rng.randrange(2, len(w) - 1)
    words[i] = w[:pos] + w[pos + 1 :]
    return " ".join(words)


def _ref_text(rng, number: str) -> str:
    f, y, s = number[0], number[1:5], number[5:]
    template = rng.choice(REF_SPELLINGS)
    return template.format(n=number, F=f, Y=y, S=s, s=str(int(s)), lower=number.lower())


def generate(
    seed: int, *, n_credits: int = 600, n_generated_clients: int = 40, weights: dict | None = None
) -> LabelledSet:
    """The labelled set of ``seed``; ``weights`` chooses the cases (:data:`CASE_WEIGHTS` by default)."""
    rng = random.Random(seed)
    clients: list[LClient] = []
    for name, aliases in TRICKY_CLIENTS:
        clients.append(LClient(len(clients) + 1, name, list(aliases)))
    combos = [(a, b) for a in FIRST for b in SECOND]
    rng.shuffle(combos)
    for a, b in combos[:n_generated_clients]:
        form = rng.choice(FORMS)
        clients.append(LClient(len(clients) + 1, f"{a} {b} {form}".strip()))
    for c in clients:
        c.iban = _iban(rng)
    by_id = {c.id: c for c in clients}
    # Some clients pay from an IBAN learned from an earlier confirmation.
    payer_ibans = [(c.iban, c.id) for c in clients if rng.random() < 0.4]
    learned = {cid for _iban_, cid in payer_ibans}

    # Invoices: monthly fees (equal amounts) and time-based ones with cents, issued through 2025.
    start = dt.date(2025, 1, 6)
    raw = []
    for c in clients:
        fee = rng.choice([60000, 72000, 90000, 120000, 150000, 36000])
        for month in range(14):
            if rng.random() < 0.3:
                continue
            issue = start + dt.timedelta(days=30 * month + rng.randint(0, 4))
            cents = fee if rng.random() < 0.45 else rng.randint(8000, 900000)
            raw.append((issue, c.id, cents))
    raw.sort()
    invoices: list[LInvoice] = []
    per_year: dict[int, int] = {}
    for i, (issue, cid, cents) in enumerate(raw, start=1):
        per_year[issue.year] = per_year.get(issue.year, 0) + 1
        number = f"F{issue.year}{per_year[issue.year]:04d}"
        invoices.append(LInvoice(i, number, cid, cents, issue, issue + dt.timedelta(days=30), cents))
    # A few invoices were paid before this window: a reference to one is a second payment.
    closed = {}
    paid_before = rng.sample(invoices, k=max(3, len(invoices) // 25))
    for inv in paid_before:
        closed[inv.number] = inv.client_id
    open_invoices = [i for i in invoices if i.number not in closed]
    by_number = {i.number: i for i in open_invoices}

    def client_open(cid, on):
        return sorted(
            (i for i in open_invoices if i.client_id == cid and i.balance_cents > 0 and i.issue_date <= on),
            key=lambda i: (i.issue_date, i.number),
        )

    case_weights = weights or CASE_WEIGHTS
    cases = list(case_weights)
    shares = [case_weights[c] for c in cases]
    credits: list[LCredit] = []
    day = dt.date(2025, 3, 1)
    attempts = 0
    while len(credits) < n_credits and attempts < n_credits * 20:
        attempts += 1
        if rng.random() < 0.5:
            day += dt.timedelta(days=1)
        case = rng.choices(cases, shares)[0]
        made = _make_credit(rng, case, day, clients, by_id, learned, client_open, by_number, closed)
        if made is None:
            continue
        label, counterparty, reference, iban, amount, expected = made
        for number, cents in expected:
            inv = by_number[number]
            # fee shortfalls are written off: the invoice is settled
            inv.balance_cents = 0 if case in ("ref_fee", "name_fee") else inv.balance_cents - cents
        n = len(credits) + 1
        credits.append(
            LCredit(
                n,
                f"syaga-{seed}-transaction-{n}",
                amount,
                label,
                counterparty,
                reference,
                iban,
                day,
                case,
                expected,
            )
        )
    for inv in open_invoices:
        inv.balance_cents = inv.total_cents
    return LabelledSet(clients, open_invoices, closed, payer_ibans, credits)


def _make_credit(rng, case, day, clients, by_id, learned, client_open, by_number, closed):
    """(label, counterparty, reference, iban, amount_cents, expected) for one case, or None if impossible."""
    client = rng.choice(clients)
    opens = client_open(client.id, day)
    noise = rng.choice(
        [
            "",
            "",
            "VIREMENT",
            "PAIEMENT",
            "REGLEMENT",
            "ECHEANCE",
            "CMD 45821",
            "VIR CLIENT",
            # digits that look like our numbers: a date, a purchase order, an internal id
            f"VIR DU {day:%Y%m%d}",
            f"BC {day.year}-{rng.randint(1, 400):04d}",
            f"DOSSIER {day.year}{rng.randint(1, 400):04d}",
            f"PAIEMENT {day:%d/%m/%Y}",
        ]
    )
    iban = client.iban if client.id in learned or rng.random() < 0.5 else _iban(rng)
    if case.startswith("ref_") or case == "double_payment":
        if case == "double_payment":
            number = rng.choice(sorted(closed))
            payer = by_id[closed[number]]
            amount = rng.randint(10000, 300000)
            return (
                _bank_name(rng, payer.name, variant=True),
                payer.name,
                _ref_text(rng, number),
                payer.iban,
                amount,
                [],
            )
        if not opens:
            return None
        inv = rng.choice(opens)
        ref = _ref_text(rng, inv.number)
        payer_name = _bank_name(rng, client.name, variant=rng.random() < 0.5)
        if case == "ref_rf":
            rf = invoice_rf_reference(inv.number)
            ref = rng.choice([rf, " ".join(rf[i : i + 4] for i in range(0, len(rf), 4)), f"REF {rf.lower()}"])
            return payer_name, payer_name, ref, iban, inv.balance_cents, [(inv.number, inv.balance_cents)]
        if case in ("ref_accountant", "ref_parent"):
            payer_name = rng.choice(ACCOUNTANTS if case == "ref_accountant" else PARENTS)
            return (
                payer_name,
                payer_name,
                ref,
                _iban(rng),
                inv.balance_cents,
                [(inv.number, inv.balance_cents)],
            )
        if case == "ref_multi":
            if len(opens) < 2:
                return None
            chosen = sorted(rng.sample(opens, k=min(len(opens), rng.randint(2, 3))), key=lambda i: i.number)
            sep = rng.choice([" ", " + ", ", ", " ET ", "/"])
            ref = "FACTURES " + sep.join(i.number for i in chosen)
            total = sum(i.balance_cents for i in chosen)
            return payer_name, payer_name, ref, iban, total, [(i.number, i.balance_cents) for i in chosen]
        if case == "ref_instalment":
            parts = rng.choice([2, 3])
            cents = inv.total_cents // parts
            if inv.balance_cents < inv.total_cents:  # a later instalment: pay what is left or one more part
                cents = min(cents, inv.balance_cents)
            if cents <= 0:
                return None
            ref = rng.choice([f"ECHEANCE {rng.randint(1, parts)}/{parts} ", "ACOMPTE ", ""]) + ref
            return payer_name, payer_name, ref, iban, cents, [(inv.number, cents)]
        if case == "ref_fee":
            fee = rng.choice([35, 50, 120, 150, 200])
            if inv.balance_cents <= fee * 10:
                return None
            return (
                payer_name,
                payer_name,
                ref,
                iban,
                inv.balance_cents - fee,
                [(inv.number, inv.balance_cents - fee)],
            )
        if case == "ref_multi_listed":
            return _listed(rng, opens, payer_name, iban)
        if case == "ref_overpay_known":
            # a known payer rounds up, or adds a few euros: from 5.01 to 50.00 too much
            rounded = -(-inv.balance_cents // 1000) * 1000
            extra = rounded - inv.balance_cents
            if not 500 < extra <= 5000:
                extra = rng.choice([600, 1000, 1500, 2000, 3000, 5000])
            payer_name = _bank_name(rng, client.name, variant=False)
            return (
                payer_name,
                payer_name,
                ref,
                client.iban if client.id in learned else iban,
                inv.balance_cents + extra,
                [(inv.number, inv.balance_cents)],
            )
        if case == "ref_overpay":
            extra = rng.choice([1, 10, 50, 100, 300])
            return (
                payer_name,
                payer_name,
                ref,
                iban,
                inv.balance_cents + extra,
                [(inv.number, inv.balance_cents)],
            )
        return payer_name, payer_name, ref, iban, inv.balance_cents, [(inv.number, inv.balance_cents)]

    if case == "non_invoice":
        kind = rng.randrange(9)
        amount = rng.randint(500, 500000)
        if rng.random() < 0.3:
            # the amount of an open invoice, by coincidence: amount alone must never match
            some = [i for c in clients for i in client_open(c.id, day)]
            if some:
                amount = rng.choice(some).balance_cents
        label, ref = [
            ("DGFIP", "REMBOURSEMENT CREDIT TVA 2024"),
            ("DIRECTION GENERALE DES FINANCES PUBLIQUES", "REMBT IMPOT SOCIETES"),
            ("QONTO", "INTERETS CREDITEURS T1"),
            ("AMAZON PAYMENTS EUROPE", "REMBOURSEMENT COMMANDE 402-1182"),
            ("M JEAN MARTIN", "APPORT EN COMPTE COURANT"),
            ("MME SOPHIE DURAND", "remboursement frais repas"),
            ("OVH SAS", "AVOIR 2025-1143"),
            ("CARTE X4521 REMB", "REMBOURSEMENT CARTE LDLC"),
            ("SYAGA CONSULTING", "APPORT CAPITAL"),
        ][kind]
        return label, label, ref, _iban(rng), amount, []

    if not opens:
        return None
    oldest = opens[0]
    variant = case in ("name_bank_variant",) or rng.random() < 0.3
    payer_name = _bank_name(rng, client.name, variant=variant)
    exact_single = [i for i in opens if i.balance_cents == oldest.balance_cents]
    if case in ("name_exact", "name_bank_variant", "name_typo", "alias", "iban_learned", "name_equal_oldest"):
        if case == "name_equal_oldest":
            groups = {}
            for i in opens:
                groups.setdefault(i.balance_cents, []).append(i)
            equal = [g for g in groups.values() if len(g) >= 2]
            if not equal:
                return None
            target = equal[0][0]
        else:
            target = rng.choice(opens)
            target = next(
                i for i in opens if i.balance_cents == target.balance_cents
            )  # oldest of that amount
        if case == "name_typo":
            payer_name = _typo(rng, client.name)
        elif case == "alias":
            if not client.aliases:
                return None
            payer_name = _bank_name(rng, rng.choice(client.aliases), variant=False)
        elif case == "iban_learned":
            if client.id not in learned:
                return None
            payer_name = rng.choice([*PARENTS, "SERVICE COMPTABILITE", "SIEGE SOCIAL"])
            iban = client.iban
        return (
            payer_name,
            payer_name,
            noise,
            iban,
            target.balance_cents,
            [(target.number, target.balance_cents)],
        )
    if case == "name_multi":
        if len(opens) < 2:
            return None
        k = min(len(opens), rng.randint(2, 3))
        chosen = opens[:k]  # the oldest ones, as clients catch up
        total = sum(i.balance_cents for i in chosen)
        return payer_name, payer_name, noise, iban, total, [(i.number, i.balance_cents) for i in chosen]
    if case == "name_fee":
        fee = rng.choice([35, 50, 120, 150])
        target = exact_single[0]
        if target.balance_cents <= fee * 10:
            return None
        return (
            payer_name,
            payer_name,
            noise,
            iban,
            target.balance_cents - fee,
            [(target.number, target.balance_cents - fee)],
        )
    if case == "name_overpay":
        target = exact_single[0]
        extra = rng.choice([2, 20, 100])
        return (
            payer_name,
            payer_name,
            noise,
            iban,
            target.balance_cents + extra,
            [(target.number, target.balance_cents)],
        )
    if case == "name_instalment":
        if len(opens) != 1 or oldest.balance_cents != oldest.total_cents:
            return None
        cents = oldest.total_cents // 2
        return payer_name, payer_name, "ACOMPTE 50%", iban, cents, [(oldest.number, cents)]
    if case == "client_advance":
        # a known client sends money that pays no invoice: a deposit on an order not invoiced yet
        # (never exactly an open balance of the client: such a credit cannot be told from a payment, by
        # a person either, so it could not be labelled)
        balances = {i.balance_cents for i in opens}
        amount = rng.choice([a for a in (30000, 50000, 100000, 150000, 200000, 250000) if a not in balances])
        return payer_name, payer_name, rng.choice(["ACOMPTE COMMANDE", "AVANCE", noise]), iban, amount, []
    if case == "hard_twin_typo":
        twins = {"ALPHA CONSEIL": "ALPHA CONSIL", "ALPHA CONSEILS": "ALPHA CONSEILL"}
        if client.name not in twins or not opens:
            return None
        return (
            twins[client.name],
            twins[client.name],
            noise,
            _iban(rng),
            oldest.balance_cents,
            [(oldest.number, oldest.balance_cents)],
        )
    if case == "hard_wrong_client_ref":
        # the client types the number of someone else's invoice; the amount is its own invoice's
        others = [i for i in by_number.values() if i.client_id != client.id and i.balance_cents > 0]
        if not others or client.id not in learned:
            return None
        wrong = rng.choice(others)
        return (
            payer_name,
            payer_name,
            _ref_text(rng, wrong.number),
            client.iban,
            oldest.balance_cents,
            [(oldest.number, oldest.balance_cents)],
        )
    if case == "hard_discount":
        cents = oldest.balance_cents * 97 // 100  # an unexplained 3 % discount
        return payer_name, payer_name, noise, iban, cents, [(oldest.number, cents)]
    raise ValueError(case)


def _listed(rng, opens, payer_name, iban):
    """A transfer paying 2 to 4 open invoices of a client whose reference lists every one of them."""
    if len(opens) < 2:
        return None
    chosen = sorted(rng.sample(opens, k=min(len(opens), rng.randint(2, 4))), key=lambda i: i.number)
    numbers = [i.number for i in chosen]
    years = {n[1:5] for n in numbers}
    style = rng.randrange(6)
    if style == 0:  # each typed its own way
        ref = rng.choice([" ", " + ", ", ", " ET ", " / "]).join(_ref_text(rng, n) for n in numbers)
    elif style == 1 and len(years) == 1:  # one prefix, then the sequence numbers
        year = years.pop()
        ref = f"FACTURES F{year}-" + rng.choice(["/", ", ", " ET ", "+"]).join(n[5:] for n in numbers)
    elif style == 2:  # bare digits only
        ref = " ".join(n[1:] for n in numbers)
    elif style == 3:  # the first with its F, the others bare
        ref = f"FACT {numbers[0]} " + " ".join(n[1:] for n in numbers[1:])
    elif style == 4:
        ref = "reglement factures " + " ".join(n.lower() for n in numbers)
    else:
        ref = "FACTURES " + " ".join(numbers)
    if rng.random() < 0.3:  # the accountant pays
        payer_name, iban = rng.choice(ACCOUNTANTS), _iban(rng)
    total = sum(i.balance_cents for i in chosen)
    return payer_name, payer_name, ref, iban, total, [(i.number, i.balance_cents) for i in chosen]


def score(labelled: LabelledSet, results) -> dict:
    """Precision of automatic matches and recall over invoice-paying credits, per case too."""
    by_tx = {r.transaction_id: r for r in results}
    auto = right = paying = paying_right = 0
    per_case: dict[str, list[int]] = {}
    wrong = []
    for credit in labelled.credits:
        r = by_tx.get(credit.transaction_id)
        got = sorted((a["invoice"], int(Decimal(a["amount"]) * 100)) for a in (r.allocations if r else []))
        expected = sorted(credit.expected)
        matched = r is not None and r.status == "matched"
        ok = matched and got == expected
        stats = per_case.setdefault(credit.case, [0, 0, 0])  # total, matched, right
        stats[0] += 1
        if matched:
            auto += 1
            stats[1] += 1
            right += ok
            stats[2] += ok
            if not ok:
                wrong.append((credit, r))
        if expected:
            paying += 1
            paying_right += ok
    return {
        "credits": len(labelled.credits),
        "auto": auto,
        "auto_right": right,
        "paying": paying,
        "paying_auto_right": paying_right,
        "precision": right / auto if auto else 1.0,
        "recall": paying_right / paying if paying else 1.0,
        "per_case": per_case,
        "wrong": wrong,
    }


FEE_CASES = ("ref_fee", "name_fee")


def load_into_db(labelled: LabelledSet):
    """Clients, aliases, learned IBANs, issued invoices and credit transactions, in bulk.

    Returns ``{credit id: BankTransaction}``. Invoices are inserted already issued (numbered and frozen),
    as the history import does, so thousands of them load in a second.
    """
    from zoneinfo import ZoneInfo

    from banking.models import BankTransaction, PayerIdentity
    from invoicing.models import Client, ClientAlias, Invoice
    from invoicing.models.invoice import Status
    from syaga.core.text import normalize_company_name

    paris = ZoneInfo("Europe/Paris")
    clients = Client.objects.bulk_create(
        [Client(name=c.name, normalized_name=normalize_company_name(c.name)) for c in labelled.clients]
    )
    pk = {c.id: row.pk for c, row in zip(labelled.clients, clients, strict=True)}
    ClientAlias.objects.bulk_create(
        [
            ClientAlias(client_id=pk[c.id], name=a, normalized_name=normalize_company_name(a))
            for c in labelled.clients
            for a in c.aliases
        ]
    )
    PayerIdentity.objects.bulk_create(
        [PayerIdentity(client_id=pk[cid], iban=iban) for iban, cid in labelled.payer_ibans]
    )

    def invoice(number, client_id, cents, issue, status):
        ttc = Decimal(cents) / 100
        ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
        return Invoice(
            number=number,
            series=number[0],
            client_id=pk[client_id],
            status=status,
            issue_date=issue,
            due_date=issue + dt.timedelta(days=30),
            total_ht=ht,
            total_vat=ttc - ht,
            total_ttc=ttc,
            amount_paid=ttc if status == Status.PAID else Decimal("0.00"),
            paid_date=issue + dt.timedelta(days=20) if status == Status.PAID else None,
        )

    rows = [
        invoice(i.number, i.client_id, i.total_cents, i.issue_date, Status.ISSUED) for i in labelled.invoices
    ]
    rows += [
        invoice(number, cid, 50000, dt.date(2024, 11, 4), Status.PAID)
        for number, cid in labelled.closed_numbers.items()
    ]
    Invoice.objects.bulk_create(rows, batch_size=500)
    txs = BankTransaction.objects.bulk_create(
        [
            BankTransaction(
                qonto_id=f"q-{c.transaction_id}",
                transaction_id=c.transaction_id,
                amount=Decimal(c.amount_cents) / 100,
                side="credit",
                operation_type="income",
                status="completed",
                label=c.label,
                clean_counterparty_name=c.counterparty,
                reference=c.reference,
                counterparty_iban=c.iban,
                settled_at=dt.datetime.combine(c.settled_on, dt.time(10, 0), tzinfo=paris),
            )
            for c in labelled.credits
        ],
        batch_size=500,
    )
    return {c.id: tx for c, tx in zip(labelled.credits, txs, strict=True)}
