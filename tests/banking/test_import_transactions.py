"""``import_transactions``: saved Qonto responses, all or nothing, each transaction once, finite amounts."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from banking.models import BankTransaction

pytestmark = pytest.mark.django_db

PAGE = Path(__file__).parent / "data" / "transactions_page.json"


def page() -> dict:
    return json.loads(PAGE.read_text())


def save(tmp_path, name: str, payload: dict | str) -> str:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


def test_a_transaction_twice_in_one_file_is_refused_naming_both_places(tmp_path):
    # given: a saved page whose first transaction was saved again at its end
    payload = page()
    first = payload["transactions"][0]
    payload["transactions"].append(dict(first, status="pending"))
    path = save(tmp_path, "twice.json", payload)
    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_transactions", path)
    # then
    assert re.fullmatch(
        rf"{re.escape(path)}, transactions\[5\] ?: la transaction {first['id']} figure déjà dans "
        rf"{re.escape(path)}, transactions\[0\] : chaque transaction ne doit figurer qu'une fois "
        r"\(retirez l'une des deux\) ; rien n'a été importé",
        str(caught.value),
    )
    assert caught.value.returncode == 1
    assert not BankTransaction.objects.exists()


def test_a_transaction_in_two_files_is_refused_not_last_wins(tmp_path):
    # given: two saved responses that both hold the third transaction, in two versions
    older, newer = page(), page()
    newer["transactions"] = [dict(newer["transactions"][2], status="declined")]
    a, b = save(tmp_path, "a.json", older), save(tmp_path, "b.json", newer)
    tx_id = older["transactions"][2]["id"]
    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_transactions", a, b)
    # then
    assert re.match(
        rf"{re.escape(b)}, transactions\[0\] ?: la transaction {tx_id} figure déjà dans {re.escape(a)}, "
        r"transactions\[2\] : ",
        str(caught.value),
    )
    assert not BankTransaction.objects.exists()


@pytest.mark.parametrize(
    ("amount_json", "reason"),
    [
        ('"amount": NaN', "« amount » vaut NaN : ce n'est pas un nombre fini"),
        ('"amount": Infinity', "« amount » vaut Infinity : ce n'est pas un nombre fini"),
        ('"amount": -Infinity', "« amount » vaut -Infinity : ce n'est pas un nombre fini"),
        ('"amount": "NaN"', "montant « NaN » : ce n'est pas un nombre fini"),
        ('"amount": 12.5, "local_amount": NaN', "« local_amount » vaut NaN : ce n'est pas un nombre fini"),
        (
            '"amount": 1e15',
            "montant 1\u202f000\u202f000\u202f000\u202f000\u202f000,00\u00a0€ trop grand "
            "(au plus 999\u202f999\u202f999\u202f999,99\u00a0€)",
        ),
        (
            '"amount": "1000000000000.00"',
            "montant 1\u202f000\u202f000\u202f000\u202f000,00\u00a0€ trop grand",
        ),
        (
            '"amount_cents": 100000000000000000000',
            "montant 1\u202f000\u202f000\u202f000\u202f000\u202f000\u202f000,00\u00a0€ trop grand",
        ),
        ('"amount": 1e400', "« amount » vaut Infinity : ce n'est pas un nombre fini"),
    ],
)
def test_amounts_that_are_not_finite_or_overflow_are_clear_errors(tmp_path, amount_json, reason):
    # given: a good file, then one transaction with a hostile amount
    bad = save(
        tmp_path, "bad.json", '{"transactions": [{"id": "t-1", "side": "credit", ' + amount_json + "}]}"
    )
    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_transactions", str(PAGE), bad)
    # then: the file, the transaction and the reason; nothing written
    message = str(caught.value)
    assert re.match(rf"{re.escape(bad)}, transactions\[0\], transaction t-1 ?: ", message)
    assert reason in message
    assert message.endswith(" ; rien n'a été importé")
    assert caught.value.returncode == 1
    assert not BankTransaction.objects.exists()


def test_the_same_files_again_are_still_idempotent(tmp_path, capsys):
    # given: two files with distinct transactions
    payload = page()
    a = save(tmp_path, "a.json", dict(payload, transactions=payload["transactions"][:2]))
    b = save(tmp_path, "b.json", dict(payload, transactions=payload["transactions"][2:]))
    call_command("import_transactions", a, b)
    # when
    call_command("import_transactions", a, b)
    # then
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == "2 fichier(s) : 0 créée(s), 0 mise(s) à jour, 5 inchangée(s)"
    )
    assert BankTransaction.objects.count() == 5
