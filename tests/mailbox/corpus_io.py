"""Reads the reply corpora in tests/mailbox/corpus/ (dev.txt: tuned on; heldout.txt: never tuned on).

A block starts with ``### id | category | urgency or - | lang``, then ``Subject:`` and optional
``Header: Name: value`` lines, a blank line, and the body.
"""

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).with_name("corpus")


@dataclass
class Reply:
    id: str
    category: str
    urgency: int | None
    lang: str
    subject: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


def load(name: str) -> list[Reply]:
    replies: list[Reply] = []
    current: Reply | None = None
    in_body = False
    lines: list[str] = []
    for raw in (HERE / name).read_text(encoding="utf-8").splitlines():
        if raw.startswith("### "):
            if current is not None:
                current.body = "\n".join(lines).strip()
                replies.append(current)
            ident, category, urgency, lang = (part.strip() for part in raw[4:].split("|"))
            current = Reply(ident, category, None if urgency == "-" else int(urgency), lang)
            in_body, lines = False, []
        elif current is None:
            continue
        elif not in_body and raw.startswith("Subject:"):
            current.subject = raw[len("Subject:") :].strip()
        elif not in_body and raw.startswith("Header:"):
            name_, _, value = raw[len("Header:") :].strip().partition(":")
            current.headers[name_.strip()] = value.strip()
        elif not in_body and not raw.strip():
            in_body = True
        else:
            in_body = True
            lines.append(raw)
    if current is not None:
        current.body = "\n".join(lines).strip()
        replies.append(current)
    return replies
