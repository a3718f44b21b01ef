"""What the client wrote, without what they quoted: the new text of a reply, normalised for matching.

Replies quote our own e-mail below them, and our reminders are full of the words a naive reader would take
for a complaint ("pénalités", "retard", "mise en demeure"). The quoted part is cut at the first marker mail
clients put before it: "Le … a écrit :", "On … wrote:", an Outlook header block ("De : … Envoyé : …"),
"-----Original Message-----", a line of underscores, "> " lines, "Envoyé de mon iPhone", or "-- " before a
signature. HTML-only messages are turned into text first, their <blockquote> and reply containers cut too.
"""

import html
import re
import unicodedata
from html.parser import HTMLParser

_QUOTE_MARKERS = [
    # Gmail/Apple (FR): "Le lun. 3 mars 2025 à 10:12, X <x@y> a écrit :" (may wrap onto a second line)
    re.compile(r"^[ \t]*>?[ \t]*Le\b[^\n]{0,200}(?:\n[^\n]{0,120})?\ba\s+[ée]crit\s*:", re.I | re.M),
    re.compile(r"^[ \t]*>?[ \t]*On\b[^\n]{0,200}(?:\n[^\n]{0,120})?\bwrote\s*:", re.I | re.M),
    re.compile(
        r"^[ \t]*-{2,}[ \t]*(?:original message|message d'origine|message original|forwarded message|"
        r"message transf[ée]r[ée]|mail original)[ \t]*-*",
        re.I | re.M,
    ),
    re.compile(r"^[ \t]*_{8,}[ \t]*$", re.M),
    # Outlook's header block: "De : …" / "From: …" followed within a few lines by Envoyé/Sent/Date/À/To/Objet.
    re.compile(
        r"^[ \t]*\*?(?:De|From)[ \t]*\*?[ \t]*:[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*\*?"
        r"(?:Envoy[ée]|Sent|Date|[ÀA]|To|Objet|Subject)[ \t]*\*?[ \t]*:",
        re.I | re.M,
    ),
    re.compile(r"^[ \t]*(?:Envoy[ée] de mon|Sent from my|Envoy[ée] depuis)\b", re.I | re.M),
    re.compile(r"^-- ?$", re.M),
    re.compile(r"^[ \t]*>", re.M),
]
_WS = re.compile(r"[ \t\u00a0\u202f]+")


def new_text(body: str) -> str:
    """The part of a reply its author wrote: everything above the first quote marker.

    When the author wrote below the quote (bottom-posting), nothing is left above it: then the quoted
    lines and header blocks are dropped and what remains is kept.
    """
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n")
    cut = len(body)
    for marker in _QUOTE_MARKERS:
        found = marker.search(body)
        if found and found.start() < cut:
            cut = found.start()
    head = body[:cut].strip()
    if head:
        return head
    kept = [line for line in body.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


class _HtmlText(HTMLParser):
    """HTML to text: blocks become lines, quoted blocks become "> " lines, style and script vanish."""

    BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "hr"}
    QUOTE_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "divrplyfwdmsg", "appendonsend")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        marker = " ".join(filter(None, [attrs.get("class") or "", attrs.get("id") or ""])).lower()
        quoting = tag == "blockquote" or any(q in marker for q in self.QUOTE_CLASSES)
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        if tag not in ("br", "hr", "img", "meta", "link", "input"):
            self.stack.append((tag, quoting))
            if quoting:
                self.quote += 1
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head", "title") and self.skip:
            self.skip -= 1
        while self.stack:
            open_tag, quoting = self.stack.pop()
            if quoting:
                self.quote -= 1
            if open_tag == tag:
                break
        if tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        if self.quote:
            lines = data.split("\n")
            self.out.append("\n".join("> " + line if line.strip() else line for line in lines))
        else:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(markup or "")
        parser.close()
    except Exception:
        return html.unescape(re.sub(r"<[^>]+>", " ", markup or ""))
    text = "".join(parser.out)
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    # Quoted blocks: make each of their lines start with "> " once (the marker new_text() cuts at).
    cleaned, blank = [], False
    for line in lines:
        if not line:
            if not blank:
                cleaned.append("")
            blank = True
            continue
        blank = False
        cleaned.append(line)
    return "\n".join(cleaned).strip()


def fold(text: str) -> str:
    """Lower case, no accents, straight apostrophes, one space: what the rules and the model read."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'").replace("œ", "oe").replace("æ", "ae")
    return _WS.sub(" ", text.lower()).strip()


_TOKEN = re.compile(r"[a-z0-9]+")
_CLAUSES = re.compile(r"([.;:!?\n,])")
NEGATORS = frozenset(
    {"pas", "aucun", "aucune", "sans", "ni", "jamais", "rien", "no", "not", "never", "nothing", "cannot"}
)
_ENGLISH_NOT = frozenset({"don", "won", "didn", "isn", "wasn", "aren", "doesn", "haven", "hasn"})


def tokens(folded: str) -> list[str]:
    """Words (and ``?``) with negation marked: after "pas", "aucun", "no", "not"… the next words of the
    clause carry a ``not_`` prefix, so "aucune erreur" and "erreur" are different features."""
    out: list[str] = []
    for piece in _CLAUSES.split(folded):
        if piece == "?":
            out.append("?")
            continue
        negate = 0
        for word in _TOKEN.findall(piece.replace("'", " ")):
            if word in NEGATORS or word in _ENGLISH_NOT:
                negate = 3
                out.append(word)
                continue
            out.append(f"not_{word}" if negate else word)
            negate = max(0, negate - 1)
    return out
