"""The Factur-X (EN 16931 profile) CII XML of an issued document, and the business rules a platform checks.

The XML is built by the ``factur-x`` library (akretion) from a dict keyed by EN 16931 business terms, and
checked against the profile's XSD there. Besides the XSD, :func:`business_rules_errors` checks the figures
as a receiving platform does (BR-CO-10, 15, 16, 17, VAT categories and rates, the parties' identifiers) so
that a wrong document never leaves: the PDF is not written when the XML is wrong.

French rules (BR-FR, see ../shared/contracts/french-invoicing.md §5.2): billing framework S1 (services),
notes PMT (recovery indemnity), PMD (late penalties) and AAB (early-payment discount), SIREN as legal
registration identifier with scheme 0002, the parties' electronic addresses (e-mail, scheme EM), the
preceding invoice (BT-25, BT-26) on a credit note.
"""

from decimal import Decimal

from invoicing.documents.context import NATURE_MENTION, NO_DISCOUNT
from invoicing.documents.payment import rf_reference
from invoicing.models import Invoice
from invoicing.models.invoice import Kind, Unit
from invoicing.models.seller import VatRegime
from syaga.core.lazy import lazy_module
from syaga.core.money import ZERO, format_eur, format_rate, quantize, vat_amount

facturx = lazy_module("facturx")
facturx_xml = lazy_module("facturx.generate_xml")

PROFILE = "en16931"
GUIDELINE = "urn:cen.eu:en16931:2017"
BILLING_FRAMEWORK_SERVICES = "S1"
TYPE_INVOICE, TYPE_CREDIT_NOTE = "380", "381"
SEPA_CREDIT_TRANSFER = "58"
SIREN_SCHEME = "0002"
EMAIL_SCHEME = "EM"
# UN/ECE Recommendation 20 unit codes.
UNIT_CODES = {
    Unit.HOUR: "HUR",
    Unit.DAY: "DAY",
    Unit.MONTH: "MON",
    Unit.QUARTER: "QAN",
    Unit.YEAR: "ANN",
    Unit.FLAT: "C62",
    Unit.UNIT: "C62",
}
STANDARD, EXEMPT = "S", "E"
EXEMPTION_REASON = "Exonération de TVA"
FOUR_PLACES = Decimal("0.0001")


class FacturXError(ValueError):
    """The document's XML breaks a rule of the XSD or of EN 16931: it would be refused by a platform."""


def _amount(value) -> str:
    return str(quantize(Decimal(str(value))))


def _rate(value) -> str:
    return f"{Decimal(str(value)).normalize():f}"


def _category(rate: Decimal) -> str:
    return STANDARD if Decimal(rate) > ZERO else EXEMPT


def _postal(address: str, country: str) -> dict:
    """Split a printed address (lines, then « code city ») into the EN 16931 address terms."""
    lines = [line.strip() for line in (address or "").splitlines() if line.strip()]
    postcode = city = ""
    if lines:
        last = lines.pop()
        head, _, tail = last.partition(" ")
        postcode, city = (head, tail) if head[:1].isdigit() else ("", last)
    postal = {"country_code": country or "FR", "postcode": postcode, "city": city}
    for key, line in zip(("addr_l1", "addr_l2", "addr_l3"), lines, strict=False):
        postal[key] = line
    return {key: value for key, value in postal.items() if value}


def _siren(value: str) -> str:
    return "".join((value or "").split())[:9]


def _party(snapshot: dict, *, name_key: str, email: str, legal_info: str = "") -> dict:
    party = {
        "name": snapshot.get(name_key, ""),
        **_postal(snapshot.get("address", ""), snapshot.get("country")),
    }
    if snapshot.get("siren"):
        party["legal_identifier"] = _siren(snapshot["siren"])
        party["legal_identifier_schemeid"] = SIREN_SCHEME
    if snapshot.get("vat_number"):
        party["vat_identifier"] = "".join(snapshot["vat_number"].split()).upper()
    if email:
        party["einvoicing_addr"] = email
        party["einvoicing_addr_schemeid"] = EMAIL_SCHEME
    if legal_info:
        party["legal_info"] = legal_info
    return party


def _line(line) -> dict:
    """One line; a discount line (negative price) is a negative quantity at a positive net price (BR-27)."""
    quantity, price = Decimal(line.quantity), Decimal(line.unit_price)
    if price < ZERO:
        quantity, price = -quantity, -price
    entry = {
        "BT-126": str(line.position),
        "BT-153": line.description[:200],
        "BT-129": str(quantize(quantity, FOUR_PLACES)),
        "BT-130": UNIT_CODES.get(line.unit, "C62"),
        "BT-146": str(quantize(price, FOUR_PLACES)),
        "BT-131": _amount(line.total_ht),
        "BT-151": _category(line.vat_rate),
        "BT-152": _rate(line.vat_rate),
    }
    if len(line.description) > 200:
        entry["BT-154"] = line.description
    return entry


def _notes(seller: dict) -> list[dict]:
    indemnity = format_eur(quantize(Decimal(str(seller.get("recovery_indemnity") or "40.00"))))
    penalty = seller.get("late_penalty_rate")
    penalty_text = (
        f"En cas de retard de paiement, pénalités au taux annuel de {format_rate(Decimal(str(penalty)))}, "
        "exigibles dès le lendemain de l'échéance sans rappel (art. L441-10 du code de commerce)."
        if penalty
        else "Pénalités de retard : voir conditions générales."
    )
    capital = format_eur(quantize(Decimal(str(seller.get("share_capital") or "0"))))
    legal = f"{seller.get('legal_form', '')} au capital de {capital}"
    notes = [
        {
            "BT-21": "PMT",
            "BT-22": f"Indemnité forfaitaire pour frais de recouvrement : {indemnity} (art. D441-5).",
        },
        {
            "BT-21": "PMD",
            "BT-22": penalty_text,
        },
        {"BT-21": "AAB", "BT-22": seller.get("early_payment_discount") or NO_DISCOUNT},
        {"BT-21": "REG", "BT-22": f"{legal}, RCS {seller.get('rcs_city', '')}. {NATURE_MENTION}."},
    ]
    if seller.get("vat_regime") == VatRegime.DEBITS:
        notes.append({"BT-21": "TXD", "BT-22": "Option pour le paiement de la taxe d'après les débits."})
    return notes


def invoice_facturx_data(invoice: Invoice) -> dict:
    """The EN 16931 terms of an issued document, as the factur-x library takes them."""
    if not invoice.number:
        raise FacturXError(f"{invoice} n'est pas émise : pas de Factur-X")
    seller, buyer = invoice.seller_snapshot or {}, invoice.buyer_snapshot or {}
    credit_note = invoice.kind == Kind.CREDIT_NOTE
    legal_info = ""
    if seller.get("legal_form"):
        capital = format_eur(quantize(Decimal(str(seller.get("share_capital") or "0"))))
        legal_info = f"{seller['legal_form']} au capital de {capital} – RCS {seller.get('rcs_city', '')}"
    data = {
        "BT-1": invoice.number,
        "BT-2": invoice.issue_date,
        "BT-3": TYPE_CREDIT_NOTE if credit_note else TYPE_INVOICE,
        "BT-5": "EUR",
        "BT-23": BILLING_FRAMEWORK_SERVICES,
        "BT-24": GUIDELINE,
        "BT-72": invoice.period_end or invoice.issue_date,
        "BG-1": _notes(seller),
        "BG-4": _party(seller, name_key="legal_name", email=seller.get("email", ""), legal_info=legal_info),
        "BG-7": _party(buyer, name_key="name", email=(buyer.get("emails") or [""])[0]),
        "BG-25": [_line(line) for line in invoice.lines.all()],
        "BG-23": [
            {
                "BT-116": _amount(row["base_ht"]),
                "BT-117": _amount(row["vat"]),
                "BT-118": _category(Decimal(row["rate"])),
                "BT-119": _rate(row["rate"]),
                **({"BT-120": EXEMPTION_REASON} if _category(Decimal(row["rate"])) == EXEMPT else {}),
            }
            for row in invoice.vat_breakdown or []
        ],
        "BT-106": _amount(sum((line.total_ht for line in invoice.lines.all()), ZERO)),
        "BT-109": _amount(invoice.total_ht),
        "BT-110": _amount(invoice.total_vat),
        "BT-112": _amount(invoice.total_ttc),
        "BT-113": _amount(ZERO),
        "BT-115": _amount(invoice.total_ttc),
    }
    if invoice.due_date:
        data["BT-9"] = max(invoice.due_date, invoice.issue_date)
    if invoice.purchase_order:
        data["BT-13"] = invoice.purchase_order[:100]
    if invoice.period_start and invoice.period_end:
        data["BT-73"], data["BT-74"] = invoice.period_start, invoice.period_end
    if credit_note and invoice.credited_invoice_id:
        credited = invoice.credited_invoice
        data["BG-3"] = [{"BT-25": credited.number, "BT-26": credited.issue_date}]
        data["BT-20"] = f"Avoir sur la facture {credited.number} du {credited.issue_date:%d/%m/%Y}."
    elif seller.get("iban"):
        data["BT-81"] = SEPA_CREDIT_TRANSFER
        data["BT-83"] = rf_reference(invoice.number)
        data["BT-84"] = "".join(seller["iban"].split()).upper()
        if seller.get("bic"):
            data["BT-86"] = seller["bic"].strip().upper()
        data["BT-20"] = (
            f"Virement à réception, au plus tard le {data.get('BT-9', invoice.issue_date):%d/%m/%Y}."
        )
    return data


def business_rules_errors(data: dict) -> list[str]:
    """The EN 16931 rules a receiving platform checks on the figures and the parties (empty: all hold)."""
    errors = []
    money = lambda key: Decimal(data.get(key) or "0")  # noqa: E731
    lines_sum = sum((Decimal(line["BT-131"]) for line in data.get("BG-25", [])), ZERO)
    if money("BT-106") != lines_sum:
        errors.append(f"BR-CO-10 : somme des lignes {lines_sum} ≠ BT-106 {money('BT-106')}")
    if money("BT-109") != money("BT-106"):
        errors.append(f"BR-CO-13 : total HT {money('BT-109')} ≠ somme des lignes {money('BT-106')}")
    if money("BT-112") != money("BT-109") + money("BT-110"):
        errors.append(f"BR-CO-15 : TTC {money('BT-112')} ≠ HT {money('BT-109')} + TVA {money('BT-110')}")
    if money("BT-115") != money("BT-112") - money("BT-113"):
        errors.append(
            f"BR-CO-16 : dû {money('BT-115')} ≠ TTC {money('BT-112')} − déjà payé {money('BT-113')}"
        )
    vat_total = ZERO
    by_rate: dict[tuple[str, Decimal], Decimal] = {}
    for line in data.get("BG-25", []):
        key = (line.get("BT-151"), Decimal(line.get("BT-152") or "0"))
        by_rate[key] = by_rate.get(key, ZERO) + Decimal(line["BT-131"])
    for row in data.get("BG-23", []):
        if not row.get("BT-118") or row.get("BT-119") in (None, ""):
            errors.append("BR-45/47/48 : une ventilation de TVA sans catégorie ou sans taux")
            continue
        rate, base, vat = Decimal(row["BT-119"]), Decimal(row["BT-116"]), Decimal(row["BT-117"])
        if vat != vat_amount(base, rate):
            errors.append(f"BR-CO-17 : TVA {vat} ≠ {base} × {rate} % arrondi ({vat_amount(base, rate)})")
        if by_rate.pop((row["BT-118"], rate), None) != base:
            errors.append(f"BR-S-08 : base {base} au taux {rate} % ≠ somme des lignes à ce taux")
        if row["BT-118"] == EXEMPT and not row.get("BT-120"):
            errors.append("BR-E-10 : exonération sans motif")
        vat_total += vat
    if by_rate:
        errors.append(f"BR-CO-18 : taux des lignes sans ventilation de TVA : {sorted(r for _, r in by_rate)}")
    if vat_total != money("BT-110"):
        errors.append(f"BR-CO-14 : somme des TVA par taux {vat_total} ≠ total TVA {money('BT-110')}")
    for key, who in (("BG-4", "du vendeur"), ("BG-7", "de l'acheteur")):
        party = data.get(key) or {}
        if not party.get("name"):
            errors.append(f"BR-06/07 : nom {who} absent")
        siren = party.get("legal_identifier", "")
        if party.get("legal_identifier_schemeid") != SIREN_SCHEME or not (
            len(siren) == 9 and siren.isdigit()
        ):
            errors.append(f"BR-FR : SIREN {who} absent ou mal formé (9 chiffres, schéma 0002)")
        if not party.get("country_code"):
            errors.append(f"BR-09/11 : pays {who} absent")
    if not (data["BG-4"] or {}).get("vat_identifier"):
        errors.append("BR-S-02 : n° de TVA du vendeur absent")
    codes = [note.get("BT-21") for note in data.get("BG-1", [])]
    for code in ("PMT", "PMD", "AAB"):
        if codes.count(code) != 1:
            errors.append(f"BR-FR-05 : la note {code} doit figurer une fois")
    if data.get("BT-3") == TYPE_CREDIT_NOTE and not data.get("BG-3"):
        errors.append("BR-FR-CO-05 : un avoir cite la facture qu'il corrige (BT-25, BT-26)")
    if money("BT-115") > ZERO and not (data.get("BT-9") or data.get("BT-20")):
        errors.append("BR-CO-25 : montant dû sans échéance ni conditions de paiement")
    return errors


def invoice_facturx_xml(invoice: Invoice) -> bytes:
    """The CII XML, checked against the EN 16931 rules above and the profile's XSD; raises FacturXError."""
    data = invoice_facturx_data(invoice)
    errors = business_rules_errors(data)
    if errors:
        raise FacturXError(f"{invoice} : Factur-X refusé : " + " ; ".join(errors))
    try:
        return facturx_xml.generate_cii_xml(data, level=PROFILE, check_xsd=True, check_schematron=False)
    except Exception as exc:  # the library raises bare Exceptions for XSD failures
        raise FacturXError(f"{invoice} : XML Factur-X invalide : {exc}") from exc


def facturx_xml_check(xml: bytes) -> None:
    """Raise when the XML does not pass the EN 16931 profile's XSD."""
    facturx.xml_check_xsd(xml, flavor="factur-x", level=PROFILE)
