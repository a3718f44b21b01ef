"""Reading raw messages in whatever state they arrive: headers in raw 8-bit, broken encoded words, lying
charsets, attachments, no Message-ID: never an exception, the anomaly named."""

from mailbox.services.parsing import Flag, derived_message_id, parse_message


def test_a_subject_sent_as_raw_utf8_or_latin1_is_read_with_its_accents():
    utf8 = "Subject: RE: Mise en demeure – facture réglée\r\nMessage-ID: <a@b>\r\n\r\nx".encode()
    latin1 = "Subject: RE: facture réglée\r\nMessage-ID: <b@b>\r\n\r\nx".encode("latin-1")
    assert parse_message(utf8).subject == "RE: Mise en demeure – facture réglée"
    assert parse_message(latin1).subject == "RE: facture réglée"


def test_an_encoded_word_with_an_unknown_charset_does_not_break_the_message():
    raw = b"Subject: =?x-martian?Q?bonjour?=\r\nFrom: =?utf-8?B?!!!?= <a@b.fr>\r\nMessage-ID: <c@b>\r\n\r\nOk"
    parsed = parse_message(raw)
    assert "bonjour" in parsed.subject
    assert parsed.from_email == "a@b.fr"
    assert parsed.text == "Ok"


def test_a_message_without_id_gets_one_derived_from_its_bytes():
    raw = b"Subject: x\r\n\r\nBien recu"
    parsed = parse_message(raw)
    assert parsed.message_id == derived_message_id(raw) == parse_message(raw).message_id
    assert Flag.NO_MESSAGE_ID in parsed.flags
    assert parsed.malformed


def test_attachments_are_listed_not_read_as_text():
    raw = (
        b"Message-ID: <d@b>\r\nDate: Tue, 04 Mar 2025 10:00:00 +0100\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=Z\r\n\r\n"
        b"--Z\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCi-joint l'avis de virement.\r\n"
        b'--Z\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="avis.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n--Z--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.strip() == "Ci-joint l'avis de virement."
    assert parsed.attachments == [{"name": "avis.pdf", "type": "application/pdf", "size": 8}]
    assert not parsed.malformed


def test_garbage_is_stored_not_raised():
    parsed = parse_message(b"\x00\xff\xfe garbage \r\n\r\n\x00")
    assert parsed.message_id.startswith("<sans-id-")
    assert parsed.malformed
