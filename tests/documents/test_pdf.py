"""The invoice PDF: every mandatory mention, Factur-X EN 16931 embedded and readable, RF reference, QR."""

import datetime as dt
import html as html_module
import io
from decimal import Decimal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from stdnum import iso11649

from banking.services.matching import invoice_rf_reference
from invoicing.documents.context import invoice_document_context
from invoicing.documents.facturx import business_rules_errors, invoice_facturx_data, invoice_facturx_xml
from invoicing.documents.payment import epc_payload, rf_reference
from invoicing.documents.pdf import fast_font_subsetting, invoice_html, invoice_pdf_render
from invoicing.models.seller import VatRegime
from invoicing.services.invoices import LineSpec
from tests.documents.conftest import credit_note_for, issue, several_rates_with_discount

pytestmark = pytest.mark.django_db

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def squeeze(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def page(invoice) -> str:
    """The printed page's text as a person reads it (entities decoded)."""
    return html_module.unescape(invoice_html(invoice))


def xpath(xml: bytes, path: str) -> list[str]:
    return [
        node if isinstance(node, str) else node.text
        for node in etree.fromstring(xml).xpath(path, namespaces=NS)
    ]


# --- the printed mentions ------------------------------------------------------------------------------


def test_the_pdf_prints_every_mandatory_mention(seller):
    # given: an issued invoice for a period, with a purchase order
    invoice = several_rates_with_discount()
    # when
    text = squeeze(pdf_text(invoice_pdf_render(invoice)))
    # then: seller identity (SIREN, SIRET, VAT, legal form, capital, RCS), buyer identity, dates, nature,
    # VAT per rate, totals, payment terms, penalties, the 40 € indemnity, the discount wording
    for mention in (
        "SYAGA Consulting",
        "SAS au capital de 10 000,00 €",
        "RCS Marseille",
        "SIREN 732829320",
        "SIRET 73282932000074",
        "FR44732829320",
        "Pharmabest SARL",
        "SIREN 542051180",
        "FR59542051180",
        f"n° {invoice.number}",
        "02/03/2026",  # issue date
        "01/02/2026 – 28/02/2026",  # the service period
        "BC-2026-017",
        "Prestations de services",
        "TVA 20 % sur 3 375,00 €",
        "TVA 10 % sur 80,07 €",
        "TVA 5,5 % sur 135,99 €",
        "Net à payer TTC",
        "au taux annuel de 12,15 %",
        "indemnité forfaitaire pour frais de recouvrement de 40,00 €",
        "Pas d'escompte pour paiement anticipé.",
        "01/04/2026",  # due date
    ):
        assert mention in text, mention
    assert "d'après les débits" not in text


def test_the_debits_option_is_printed_only_when_the_seller_opted(seller):
    # given: the same firm, first on the default cash basis, then having opted for debits
    on_receipts = issue(lines=[LineSpec("Forfait", Decimal("100.00"))])
    seller.vat_regime = VatRegime.DEBITS
    seller.save()
    on_debits = issue(lines=[LineSpec("Forfait", Decimal("100.00"))])
    # when / then
    assert "d'après les débits" not in page(on_receipts)
    assert "Option pour le paiement de la taxe d'après les débits." in page(on_debits)
    assert "TXD" in xpath(invoice_facturx_xml(on_debits), "//ram:IncludedNote/ram:SubjectCode")


def test_the_printed_figures_use_the_money_and_rate_formats(seller):
    invoice = several_rates_with_discount()
    html = squeeze(page(invoice))
    assert "7,5 heures" in html
    assert "-150,00 €" in html
    assert "5,5 %" in html
    assert f"{squeeze(invoice_document_context(invoice)['rf_printed'])}" in html


def test_a_credit_note_names_the_invoice_it_corrects(seller):
    # given
    invoice = issue(lines=[LineSpec("Forfait infogérance", Decimal("500.00"))])
    note = credit_note_for(invoice, lines=[LineSpec("Remboursement partiel", Decimal("100.00"))])
    # when
    text = squeeze(pdf_text(invoice_pdf_render(note)))
    xml = invoice_facturx_xml(note)
    # then: titled « Avoir », the corrected invoice's number and date, no payment request
    assert "AVOIR" in text.upper()
    assert f"Avoir sur la facture n° {invoice.number} du 02/03/2026" in text
    assert "Scannez pour payer" not in text
    assert xpath(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert xpath(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [invoice.number]
    assert xpath(xml, "//ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/*") == ["20260302"]
    assert xpath(xml, "//ram:GrandTotalAmount") == ["120.00"]


# --- Factur-X --------------------------------------------------------------------------------------------


def test_the_pdf_is_pdfa3_with_factur_x_xml_embedded_and_readable(seller):
    # given
    invoice = several_rates_with_discount()
    # when
    content = invoice_pdf_render(invoice)
    # then: the XML reads back with the factur-x library (XSD checked), named factur-x.xml
    filename, xml = facturx.get_xml_from_pdf(content, check_xsd=True)
    assert filename == "factur-x.xml"
    assert xpath(xml, "//rsm:ExchangedDocument/ram:ID") == [invoice.number]
    # and: declared as associated file with the Data relationship, with an sRGB output intent (PDF/A)
    reader = PdfReader(io.BytesIO(content))
    root = reader.trailer["/Root"]
    spec = root["/AF"][0].get_object()
    assert spec["/F"] == "factur-x.xml"
    assert spec["/AFRelationship"] == "/Data"
    assert "/OutputIntents" in root
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert "pdfaid:part>3<" in xmp or 'pdfaid:part="3"' in xmp
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    assert "EN 16931" in xmp
    assert "factur-x.xml" in xmp


def test_the_xml_carries_the_french_rules(seller):
    invoice = several_rates_with_discount()
    xml = invoice_facturx_xml(invoice)
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert xpath(xml, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == [
        "urn:cen.eu:en16931:2017"
    ]
    assert xpath(xml, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == ["S1"]
    assert sorted(xpath(xml, "//rsm:ExchangedDocument/ram:IncludedNote/ram:SubjectCode")) == [
        "AAB",
        "PMD",
        "PMT",
        "REG",
    ]
    # the seller's and the buyer's SIREN as legal registration id, scheme 0002; their VAT numbers
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["732829320"]
    assert xpath(xml, "//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["542051180"]
    assert set(xpath(xml, "//ram:SpecifiedLegalOrganization/ram:ID/@schemeID")) == {"0002"}
    assert xpath(xml, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == ["FR44732829320"]
    assert xpath(xml, "//ram:SellerTradeParty/ram:URIUniversalCommunication/ram:URIID") == [
        "facturation@syaga.fr"
    ]
    # payment: SEPA transfer to the IBAN, with the RF reference as remittance information
    assert xpath(xml, "//ram:PaymentReference") == [rf_reference(invoice.number)]
    assert xpath(xml, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == [
        "FR7630006000011234567890189"
    ]
    assert xpath(xml, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["BC-2026-017"]


def test_the_figures_obey_the_en16931_business_rules(seller):
    # given: several rates, a discount line, hours at a price that does not round evenly
    invoice = several_rates_with_discount()
    data = invoice_facturx_data(invoice)
    xml = invoice_facturx_xml(invoice)
    # then: no rule broken, and the XML says the same figures
    assert business_rules_errors(data) == []
    lines = [Decimal(v) for v in xpath(xml, "//ram:SpecifiedLineTradeSettlement//ram:LineTotalAmount")]
    assert sum(lines) == Decimal(xpath(xml, "//ram:LineTotalAmount")[-1]) == Decimal("3591.06")  # BR-CO-10
    assert xpath(xml, "//ram:TaxBasisTotalAmount") == ["3591.06"]
    assert xpath(xml, "//ram:TaxTotalAmount") == ["690.49"]
    assert xpath(xml, "//ram:GrandTotalAmount") == ["4281.55"]  # BR-CO-15
    assert xpath(xml, "//ram:DuePayableAmount") == ["4281.55"]  # BR-CO-16
    breakdown = etree.fromstring(xml).xpath(
        "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
    )
    rows = {
        row.findtext("ram:RateApplicablePercent", namespaces=NS): (
            row.findtext("ram:BasisAmount", namespaces=NS),
            row.findtext("ram:CalculatedAmount", namespaces=NS),
            row.findtext("ram:CategoryCode", namespaces=NS),
        )
        for row in breakdown
    }
    # BR-CO-17: VAT = basis × rate, rounded once
    assert rows == {
        "20": ("3375.00", "675.00", "S"),
        "10": ("80.07", "8.01", "S"),
        "5.5": ("135.99", "7.48", "S"),
    }
    # the discount is a negative quantity at a positive net price (BR-27)
    assert "-1.0000" in xpath(xml, "//ram:BilledQuantity")


def test_the_business_rules_catch_figures_that_do_not_add_up(seller):
    # given: the data of a correct invoice, then one figure changed at a time
    data = invoice_facturx_data(several_rates_with_discount())
    wrong_vat = {**data, "BT-110": "690.50"}
    wrong_total = {**data, "BT-112": "4281.56"}
    wrong_rate_row = {**data, "BG-23": [{**data["BG-23"][0], "BT-117": "675.01"}, *data["BG-23"][1:]]}
    no_buyer_siren = {**data, "BG-7": {k: v for k, v in data["BG-7"].items() if k != "legal_identifier"}}
    # then
    assert any(e.startswith("BR-CO-15") for e in business_rules_errors(wrong_vat))
    assert any(e.startswith("BR-CO-16") for e in business_rules_errors(wrong_total))
    assert any(e.startswith("BR-CO-17") for e in business_rules_errors(wrong_rate_row))
    assert any("SIREN de l'acheteur" in e for e in business_rules_errors(no_buyer_siren))


# --- payment: RF reference and EPC QR -------------------------------------------------------------------


def test_the_rf_reference_is_valid_and_the_one_the_bank_matching_reads(seller):
    invoice = issue(lines=[LineSpec("Forfait", Decimal("100.00"))])
    reference = rf_reference(invoice.number)
    assert iso11649.is_valid(reference)
    assert reference == invoice_rf_reference(invoice.number)
    assert reference.endswith(invoice.number)
    assert iso11649.format(reference) in squeeze(pdf_text(invoice_pdf_render(invoice)))


def test_the_epc_qr_payload_follows_epc069_12(seller):
    payload = epc_payload(
        name="SYAGA Consulting",
        iban="FR76 3000 6000 0112 3456 7890 189",
        bic="AGRIFRPPXXX",
        amount=Decimal("1200"),
        reference="RF18F20260001",
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "AGRIFRPPXXX",
        "SYAGA Consulting",
        "FR7630006000011234567890189",
        "EUR1200.00",
        "",
        "RF18F20260001",
    ]
    assert not payload.endswith("\n")
    with pytest.raises(ValueError, match="hors des bornes"):
        epc_payload(name="x", iban="FR76", amount=Decimal("0"), reference="RF18F20260001")


def test_the_issued_invoice_carries_its_qr_code_for_the_amount_due(seller):
    invoice = issue(lines=[LineSpec("Forfait", Decimal("100.00"))], issue_date=dt.date(2026, 3, 2))
    context = invoice_document_context(invoice)
    assert context["qr"].startswith("data:image/svg+xml")
    assert context["rf"] == rf_reference(invoice.number)


def test_this_machine_subsets_fonts_with_harfbuzz():
    # the set-up installs libharfbuzz-subset0 (.ci/run); without it the PDFs are about six times slower
    assert fast_font_subsetting()
