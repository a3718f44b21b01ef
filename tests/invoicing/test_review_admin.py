"""The review queue walked as a person would, with Django's test client: list, select, act, read messages."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from invoicing.models import Invoice, RuleChangeLog, ValidationRule
from invoicing.models.invoice import Status
from invoicing.services.review import invoice_validate
from tests.factories import UserFactory, make_invoice
from tests.invoicing.test_validation_rules import client_with_history, pending

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:invoicing_invoicetoreview_changelist")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def staff(username, *codenames):
    user = UserFactory(username=username)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def approver_client(client):
    user = staff("valideur", "approve_invoice", "view_invoice", "change_invoice")
    client.force_login(user)
    client.user = user
    return client


def act(client, action, invoices, **extra):
    data = {"action": action, "_selected_action": [i.pk for i in invoices], "index": 0, **extra}
    return client.post(QUEUE, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_walk_the_queue_select_and_approve_then_see_the_numbers(approver_client, seller):
    # given: two invoices waiting, one held by the 2 000 € rule
    client_a = client_with_history(name="Pharmabest SAS")
    big = pending(client_a, amount="2500.00")
    small = pending(client_with_history(name="Boulangerie Martin"), amount="400.00")
    # when: the approver opens "À valider"
    page = approver_client.get(QUEUE)
    # then: the pending invoices, the rule that held them and the difference from the previous invoice
    html = page.content.decode()
    assert page.status_code == 200
    assert "Pharmabest SAS" in html
    assert "Boulangerie Martin" in html
    assert "Montant élevé" in html
    assert "+2\u202f200,00\xa0€ (préc. 300,00\xa0€)" in html
    assert 'value="approve_selected"' in html
    # when: both are selected and approved
    confirm = act(approver_client, "approve_selected", [big, small])
    # then: a confirmation page lists what will be issued, nothing is numbered yet
    page = confirm.content.decode()
    assert "numéro définitif" in page
    assert "Pharmabest SAS" in page
    assert "Boulangerie Martin" in page
    assert "2 900,00 €" in page  # total HT of the batch
    assert Invoice.objects.filter(pk__in=[big.pk, small.pk], number__isnull=False).count() == 0
    # when: confirmed
    response = act(approver_client, "approve_selected", [big, small], post="yes")
    # then: they are issued with their numbers, and the message names them
    big.refresh_from_db()
    small.refresh_from_db()
    assert big.status == small.status == Status.ISSUED
    text = " ".join(messages_of(response))
    assert "2 facture(s) approuvée(s) et émise(s)" in text
    assert big.number in text
    assert small.number in text
    assert response.context["cl"].result_count == 0  # the queue is empty again


def test_a_mixed_batch_says_which_succeeded_and_which_failed_and_why(approver_client, seller):
    # given
    good = pending(client_with_history(name="Bon Client"))
    bad_client = client_with_history(name="Sans Mail SARL")
    bad = pending(bad_client)
    bad_client.invoice_emails = ""
    bad_client.save()
    # when
    response = act(approver_client, "approve_selected", [good, bad], post="yes")
    # then
    texts = messages_of(response)
    assert any("1 facture(s) approuvée(s)" in t and "Bon Client" in t for t in texts)
    assert any(
        f"Facture à valider #{bad.pk} (Sans Mail SARL) : échec" in t and "e-mail de facturation" in t
        for t in texts
    )
    assert Invoice.objects.get(pk=bad.pk).status == Status.PENDING_REVIEW


def test_reject_asks_for_a_reason_on_an_intermediate_page(approver_client, seller):
    # given
    invoice = pending(client_with_history())
    # when: the action is chosen
    page = act(approver_client, "reject_selected", [invoice])
    # then: a page asks for the reason, nothing changed yet
    assert b'name="reason"' in page.content
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW
    # when: confirmed without a reason
    page = act(approver_client, "reject_selected", [invoice], post="yes", reason=" ")
    # then
    assert "Indiquez le motif" in page.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW
    # when: confirmed with a reason
    response = act(approver_client, "reject_selected", [invoice], post="yes", reason="Taux horaire erroné")
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_reason) == (Status.REJECTED, "Taux horaire erroné")
    assert any("1 facture(s) rejetée(s)" in t for t in messages_of(response))
    assert invoice.events.get(kind="rejected").actor == approver_client.user


def test_send_back_to_draft(approver_client, seller):
    invoice = pending(client_with_history(), amount="2500.00")
    response = act(approver_client, "send_back_selected", [invoice])
    assert Invoice.objects.get(pk=invoice.pk).status == Status.DRAFT
    assert any("renvoyée(s) en brouillon" in t for t in messages_of(response))


def test_a_staff_user_without_approve_invoice_sees_no_actions_and_cannot_post_them(client, seller):
    # given
    clerk = staff("saisie", "view_invoice", "change_invoice")
    client.force_login(clerk)
    invoice = pending(client_with_history(name="Client Visible"))
    # when
    page = client.get(QUEUE)
    # then: the queue is visible, the actions are not
    assert page.status_code == 200
    assert "Client Visible" in page.content.decode()
    assert 'value="approve_selected"' not in page.content.decode()
    # when: the action is posted anyway
    act(client, "approve_selected", [invoice], post="yes")
    act(client, "reject_selected", [invoice], post="yes", reason="x")
    # then
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW
    assert Invoice.objects.get(pk=invoice.pk).number is None


def test_four_eyes_in_the_admin(client, seller):
    # given: two people may approve; one of them typed the invoice
    author = staff("auteur", "approve_invoice", "view_invoice")
    staff("collegue", "approve_invoice", "view_invoice")
    invoice = pending(client_with_history(), amount="3000.00", created_by=author)
    client.force_login(author)
    # when
    response = act(client, "approve_selected", [invoice], post="yes")
    # then
    assert any("quatre yeux" in t for t in messages_of(response))
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW


def test_the_detail_page_shows_the_printed_invoice_its_lines_and_its_history(approver_client, seller):
    # given
    invoice = pending(client_with_history(name="Pharmabest SAS"), amount="2500.00")
    invoice_validate(invoice=invoice, actor=approver_client.user)
    # when
    for url in (
        reverse("admin:invoicing_invoicetoreview_change", args=[invoice.pk]),
        reverse("admin:invoicing_invoice_change", args=[invoice.pk]),
    ):
        html = approver_client.get(url).content.decode()
        # then: the legal mentions of the printed invoice
        for mention in (
            "SYAGA Consulting",
            "SIREN 732829320",
            "RCS Marseille",
            "FR44732829320",
            "au capital de 10\u202f000,00\xa0€",
            "Pharmabest SAS",
            "Prestation 1",
            "TVA 20\xa0%",
            "2\u202f500,00\xa0€",
            "3\u202f000,00\xa0€",
            "pénalités au taux annuel de 12,15\xa0%",
            "40,00\xa0€",
            "escompte pour paiement anticipé",
            "TVA acquittée sur les encaissements",
            "Échéance",
        ):
            assert mention in html, (url, mention)
        # and its history
        assert "soumise à validation" in html
        assert "mise en relecture" in html
        assert "valideur" in html


def test_the_audit_trail_exports_as_csv(approver_client, seller):
    # given
    invoice = pending(client_with_history(name="Export SA"), amount="1000.00")
    act(approver_client, "approve_selected", [invoice], post="yes")
    invoice.refresh_from_db()
    # when
    url = reverse("admin:invoicing_invoicetoreview_audit_csv") + f"?invoice={invoice.pk}"
    response = approver_client.get(url)
    # then
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content)
    # French Excel: UTF-8 with its byte order mark, ";" between cells, labels, decimal comma, dd/mm/yyyy
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:6] == ["Facture (n° interne)", "Numéro", "Client", "Date", "Par", "Événement"]
    kinds = [(r[5], r[6], r[7], r[4]) for r in rows[1:]]
    assert kinds == [
        ("créée", "brouillon", "brouillon", "système"),
        ("soumise à validation", "brouillon", "à valider", "système"),
        ("approuvée", "à valider", "approuvée", "valideur"),
        ("émise (numérotée)", "approuvée", "émise", "valideur"),
    ]
    assert all(r[1] == invoice.number and r[2] == "Export SA" for r in rows[1:])
    assert rows[3][10:] == ["1000,00", "200,00", "1200,00"]
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", rows[3][3])


def test_changing_a_threshold_in_the_rule_admin_is_logged(approver_client):
    # given
    user = staff("gerant", "change_validationrule", "view_validationrule")
    approver_client.force_login(user)
    rule = ValidationRule.objects.get(name="Montant élevé")
    url = reverse("admin:invoicing_validationrule_change", args=[rule.pk])
    data = {f: getattr(rule, f) for f in ValidationRule.AUDITED_FIELDS}
    data.update(
        threshold="3000.00",
        active="on",
        **{
            "changes-TOTAL_FORMS": 0,
            "changes-INITIAL_FORMS": 0,
            "changes-MIN_NUM_FORMS": 0,
            "changes-MAX_NUM_FORMS": 1000,
        },
    )
    # when
    response = approver_client.post(url, data)
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.threshold == Decimal("3000.00")
    log = RuleChangeLog.objects.get(rule=rule)
    assert (log.user, log.before["threshold"], log.after["threshold"]) == (user, "2000.00", "3000.00")
    page = approver_client.get(url).content.decode()
    assert "threshold : 2000.00 → 3000.00" in page


def test_a_rule_the_engine_could_not_run_is_refused_by_the_form(admin_client):
    rule = ValidationRule.objects.get(name="Montant élevé")
    data = {f: getattr(rule, f) for f in ValidationRule.AUDITED_FIELDS}
    data.update(threshold="", active="on", **{"changes-TOTAL_FORMS": 0, "changes-INITIAL_FORMS": 0})
    response = admin_client.post(reverse("admin:invoicing_validationrule_change", args=[rule.pk]), data)
    assert response.status_code == 200
    assert "ce contrôle compare le total HT à un seuil : indiquez-le" in response.content.decode()
    assert not RuleChangeLog.objects.exists()


def test_the_queue_answers_in_a_bounded_number_of_queries(
    approver_client, seller, django_assert_max_num_queries
):
    # given: 40 pending invoices, each client with an issued one before
    for _ in range(40):
        pending(client_with_history(), amount="2500.00")
    make_invoice(client=client_with_history(), status=Status.ISSUED)
    # when / then
    with django_assert_max_num_queries(15):
        response = approver_client.get(QUEUE)
    assert response.status_code == 200
    assert response.content.decode().count('name="_selected_action"') == 40


def test_rule_changelist_edits_a_threshold_inline_and_logs_it(admin_client, admin_user):
    # given
    rules = list(ValidationRule.objects.order_by("order", "pk"))
    url = reverse("admin:invoicing_validationrule_changelist")
    assert "Montant élevé" in admin_client.get(url).content.decode()
    data = {"form-TOTAL_FORMS": len(rules), "form-INITIAL_FORMS": len(rules), "_save": "Enregistrer"}
    for i, rule in enumerate(rules):
        data.update(
            {
                f"form-{i}-id": rule.pk,
                f"form-{i}-order": rule.order,
                f"form-{i}-comparison": rule.comparison,
                f"form-{i}-action": rule.action,
                f"form-{i}-threshold": "" if rule.threshold is None else rule.threshold,
            }
        )
        if rule.active:
            data[f"form-{i}-active"] = "on"
        if rule.name == "Montant élevé":
            data[f"form-{i}-threshold"] = "2500.00"
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302
    log = RuleChangeLog.objects.get()
    assert (log.rule.name, log.user, log.after["threshold"]) == ("Montant élevé", admin_user, "2500.00")


def test_queue_search_by_client_name(approver_client, seller):
    pending(client_with_history(name="Pharmabest SAS"))
    pending(client_with_history(name="Boulangerie Martin"))
    response = approver_client.get(QUEUE, {"q": "pharma"})
    assert response.context["cl"].result_count == 1
