"""The reply classifier: new text only, negation, urgency, types, dates, corrections, and its measured quality
on a held-out corpus it was never tuned on."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from mailbox.classifier import classify, new_text
from mailbox.classifier.dates import mentioned_dates, promised_date, requested_date
from mailbox.classifier.text import fold
from mailbox.models import InboundMessage
from mailbox.services.classification import reply_classify
from mailbox.services.replies import inbound_correct
from tests.mailbox.corpus_io import load
from tests.mailbox.helpers import issued_invoice, reply

OUR_FINAL_NOTICE = (
    "> Par la présente, nous vous mettons en demeure de régler sous huit jours la somme de 1 257,98 €, "
    "pénalités de retard et indemnité forfaitaire de 40 € comprises.\n"
    "> À défaut, nous engagerons une procédure contentieuse et saisirons notre avocat.\n"
)


# --- the new text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Bien reçu, merci.\n\nLe lun. 3 mars 2025 à 10:12, SYAGA Facturation <facturation@syaga.fr> "
            "a écrit :\n"
            "> Facture en retard, pénalités applicables.",
            "Bien reçu, merci.",
        ),
        (
            "Bien reçu.\nLe lun. 3 mars 2025 à 10:12, SYAGA Facturation <facturation@syaga.fr>\n"
            "a écrit :\n> x",
            "Bien reçu.",
        ),
        (
            "Thanks.\n\nOn Mon, Mar 3, 2025 at 10:12 AM SYAGA <facturation@syaga.fr> wrote:\n"
            "> Late fees apply.",
            "Thanks.",
        ),
        (
            "Merci.\n________________________________\n"
            "De : SYAGA\nEnvoyé : lundi\nObjet : Relance\nPénalités.",
            "Merci.",
        ),
        (
            "Merci.\nDe : SYAGA Facturation\nEnvoyé : lundi 3 mars\n"
            "À : moi\nObjet : relance\nmise en demeure",
            "Merci.",
        ),
        ("Ok.\n-----Original Message-----\nFrom: SYAGA\nlate fees", "Ok."),
        ("C'est noté.\n\nEnvoyé de mon iPhone\n\n> mise en demeure", "C'est noté."),
        ("> mise en demeure\n> avocat\n\nPaiement fait ce jour.", "Paiement fait ce jour."),
    ],
)
def test_only_the_new_text_is_read(body, expected):
    assert new_text(body) == expected


def test_the_quoted_final_notice_does_not_make_an_acknowledgement_a_dispute():
    verdict = classify(
        subject="RE: Mise en demeure",
        body="Bien reçu, je transmets à la comptabilité.\n\n" + OUR_FINAL_NOTICE,
    )
    assert verdict.category == "ack"
    assert verdict.new_text == "Bien reçu, je transmets à la comptabilité."


def test_the_quoted_lawyer_does_not_raise_the_urgency_of_a_mild_dispute():
    verdict = classify(
        body="Je pense qu'il y a une petite erreur sur le nombre d'heures.\n\n" + OUR_FINAL_NOTICE
    )
    assert (verdict.category, verdict.urgency) == ("dispute", 2)


@pytest.mark.parametrize(
    ("body", "category"),
    [
        ("Aucune erreur de notre côté, merci.", "ack"),
        ("Pas de contestation, la facture est transmise au service comptable.", "ack"),
        ("Nous ne contestons pas la facture mais pourriez-vous nous envoyer votre RIB ?", "question"),
        ("No dispute on our side, thanks.", "ack"),
        ("Quel délai de paiement est prévu au contrat ?", "question"),
        ("Le virement n'a pas encore été effectué, pouvez-vous me rappeler l'IBAN ?", "question"),
        ("Nous ne paierons pas cette facture.", "dispute"),
        ("Le montant est erroné.", "dispute"),
    ],
)
def test_negation_is_understood(body, category):
    assert classify(body=body).category == category


def test_an_html_only_reply_is_read_without_its_quote():
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Le virement est parti ce matin.</p>"
        '<div class="gmail_quote"><blockquote>Nous contestons… mise en demeure, avocat</blockquote></div>'
        "</body></html>"
    )
    verdict = classify(html=html)
    assert verdict.category == "payment"
    assert "avocat" not in verdict.new_text


@pytest.mark.parametrize(
    ("body", "urgency", "kind"),
    [
        ("Nous refusons de payer cette facture, notre avocat vous contactera.", 5, "other"),
        ("We will not pay. Our lawyers will respond to your notice.", 5, "other"),
        ("C'est inadmissible, cette facture est injustifiée !", 4, "other"),
        ("Cette facture a déjà été réglée le 12 mars par virement.", 3, "duplicate_paid"),
        ("Vous nous avez facturé deux fois la même intervention.", 3, "duplicate_paid"),
        ("La prestation n'a jamais été réalisée.", 3, "not_delivered"),
        ("Le taux horaire facturé ne correspond pas au devis.", 3, "amount_error"),
        ("Il me semble qu'il y a une erreur sur le montant, pouvez-vous vérifier ?", 2, "amount_error"),
    ],
)
def test_disputes_get_an_urgency_and_a_type(body, urgency, kind):
    verdict = classify(body=body)
    assert (verdict.category, verdict.urgency, verdict.dispute_type) == ("dispute", urgency, kind)


def test_robots_are_recognised_by_their_headers_and_subjects():
    assert classify(body="Merci", headers={"Auto-Submitted": "auto-replied"}).category == "auto_reply"
    assert (
        classify(subject="Réponse automatique : Facture F20250012", body="Bonjour").category == "auto_reply"
    )
    assert classify(body="Je suis absente jusqu'au 14 mars inclus.").category == "auto_reply"
    assert classify(body="Merci", headers={"Auto-Submitted": "no"}).category == "ack"


# --- dates --------------------------------------------------------------------------------------------------

TODAY = dt.date(2025, 3, 12)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("le virement part le 25/03", dt.date(2025, 3, 25)),
        ("paiement programmé le 30 avril", dt.date(2025, 4, 30)),
        ("scheduled for 30 April", dt.date(2025, 4, 30)),
        ("d'ici la fin du mois", dt.date(2025, 3, 31)),
        ("fin du mois prochain", dt.date(2025, 4, 30)),
        ("vendredi", dt.date(2025, 3, 14)),
        ("demain", dt.date(2025, 3, 13)),
        ("sous 48h", dt.date(2025, 3, 14)),
        ("payé le 02/01", dt.date(2026, 1, 2)),
    ],
)
def test_dates_mentioned_in_a_reply(text, expected):
    assert mentioned_dates(fold(text), today=TODAY)[0] == expected


def test_a_promise_is_dated_from_today_and_a_delay_to_the_latest_date():
    assert promised_date(fold("virement effectué hier"), today=TODAY, default_days=7) == TODAY
    assert promised_date(
        fold("le règlement part bientôt"), today=TODAY, default_days=7
    ) == TODAY + dt.timedelta(days=7)
    assert requested_date(fold("pouvons-nous payer fin juillet ?"), today=TODAY) == dt.date(2025, 7, 31)
    assert requested_date(fold("pouvons-nous payer en 3 fois ?"), today=TODAY) is None


# --- the corpora --------------------------------------------------------------------------------------------


def score(replies):
    results = [(r, classify(subject=r.subject, body=r.body, headers=r.headers)) for r in replies]
    correct = sum(v.category == r.category for r, v in results)
    disputes = [(r, v) for r, v in results if r.category == "dispute"]
    flagged = [(r, v) for r, v in results if v.category == "dispute"]
    caught = sum(v.category == "dispute" for _, v in disputes)
    return {
        "accuracy": correct / len(results),
        "dispute_recall": caught / len(disputes),
        "dispute_precision": sum(r.category == "dispute" for r, _ in flagged) / len(flagged),
        "urgency_exact": sum(v.urgency == r.urgency for r, v in disputes if v.category == "dispute") / caught,
        "misses": [(r.id, r.category, v.category) for r, v in results if v.category != r.category],
        "n": len(results),
    }


def test_the_development_corpus_is_classified(capsys):
    result = score(load("dev.txt"))
    assert result["accuracy"] >= 0.95, result["misses"]
    assert result["dispute_recall"] == 1.0


def test_the_held_out_corpus_measures_what_the_classifier_does_on_replies_it_never_saw(capsys):
    """heldout.txt was written before the classifier and never used to tune it: these are honest figures.

    Measured once, when the classifier was done (110 replies, 31 disputes): accuracy 108/110 = 98.2 %, dispute
    recall 31/31 = 100 %, dispute precision 31/32 = 96.9 %, urgency exact on 30 of the 31 disputes. The two
    misses (h033, a question about where to post a cheque, read as a payment; h066, "payer à 60 jours au lieu
    de 30", a delay read as a dispute) were left as they are: fixing them would tune on this corpus. These
    are replies written by the same person as the cues, so real mail will score lower. The floor asserted is
    the measurement rounded down, so that a change that makes it worse fails here.
    """
    result = score(load("heldout.txt"))
    with capsys.disabled():
        print(
            f"\nheld-out ({result['n']} replies): accuracy {result['accuracy']:.1%}, dispute recall "
            f"{result['dispute_recall']:.1%}, dispute precision {result['dispute_precision']:.1%}, "
            f"urgency exact on caught disputes {result['urgency_exact']:.1%}; misses {result['misses']}"
        )
    assert result["accuracy"] >= HELD_OUT_FLOOR["accuracy"]
    assert result["dispute_recall"] >= HELD_OUT_FLOOR["dispute_recall"]
    assert result["dispute_precision"] >= HELD_OUT_FLOOR["dispute_precision"]


HELD_OUT_FLOOR = {"accuracy": 0.98, "dispute_recall": 1.0, "dispute_precision": 0.96}


# --- corrections and the command ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_correction_in_the_admin_teaches_the_classifier(seller):
    # given: a reply the cues read as a question, which the firm says is a delay request
    text = "Bonjour, notre comité d'engagement ne se réunit que le 20. Est-ce que cela vous convient ?"
    assert reply_classify(body=text).category == "question"
    message = InboundMessage.objects.create(
        message_id="<a@client.fr>", text=text, new_text=text, category="question"
    )
    # when
    inbound_correct(message=message, category="delay", actor=None)
    # then: the same wording from another client is now a delay request
    again = reply_classify(
        body="Bonjour,\nnotre comité d'engagement ne se réunit que le 20. Est-ce que cela vous convient ?"
    )
    assert again.category == "delay"
    assert "proche d'une correction" in again.reasons[0]


@pytest.mark.django_db
def test_classify_email_prints_the_json_the_issue_asks_for(seller, tmp_path):
    invoice = issued_invoice()
    dispute = tmp_path / "dispute.eml"
    dispute.write_bytes(
        reply(
            subject=f"RE: Facture {invoice.number}", body="Nous refusons de payer : notre avocat vous écrira."
        )
    )
    robot = tmp_path / "robot.eml"
    robot.write_bytes(
        reply(
            subject="Absence",
            body="Je suis absent.",
            sender="x@ailleurs.fr",
            extra="Auto-Submitted: auto-replied",
        )
    )
    out = StringIO()
    call_command("classify_email", str(dispute), str(robot), "--json", stdout=out)
    assert json.loads(out.getvalue()) == [
        {"file": str(dispute), "category": "dispute", "urgency": 5, "invoice": invoice.number},
        {"file": str(robot), "category": "auto_reply", "urgency": None, "invoice": None},
    ]


@pytest.mark.django_db
def test_classify_email_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match=r"nope\.eml : fichier introuvable"):
        call_command("classify_email", str(tmp_path / "nope.eml"))
