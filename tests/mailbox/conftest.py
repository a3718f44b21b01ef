"""Real peers for the mail tests: an SMTP server (aiosmtpd) in the test process, a throwaway Dovecot IMAP
server started on a free port (Debian's dovecot-imapd), and a local OAuth token endpoint."""

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from imap_tools import MailBoxUnencrypted

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


@pytest.fixture(autouse=True)
def _mail_settings(settings, tmp_path):
    settings.INVOICE_PDF_DIR = str(tmp_path / "invoices")
    settings.DEFAULT_FROM_EMAIL = "facturation@syaga.fr"
    settings.MAIL_MESSAGE_ID_DOMAIN = "syaga.fr"
    settings.MAIL_ALERT_TO = ["direction@syaga.fr"]
    settings.MAIL_OPEN_TRACKING = False
    settings.MAIL_AUTH = "password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpHandler:
    """Collects what it accepts; ``refuse`` answers 451 to that many messages first; ``tokens`` (when set)
    are the only XOAUTH2 bearer tokens it accepts."""

    envelopes: list = field(default_factory=list)
    refuse: int = 0
    tokens: set | None = None
    auth_log: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Mail server temporarily rejected message"
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as Q{len(self.envelopes):04d}"

    async def auth_XOAUTH2(self, server, args):
        raw = args[1] if len(args) > 1 else ""
        text = base64.b64decode(raw).decode() if raw else ""
        fields = dict(part.split("=", 1) for part in text.split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        self.auth_log.append((fields.get("user"), token))
        if self.tokens is not None and token in self.tokens:
            return AuthResult(success=True, auth_data=fields.get("user"))
        return AuthResult(success=False, handled=False)

    def messages(self):
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1; Django's mail goes to it through the project's SMTP backend."""
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False)
    controller.start()
    settings.EMAIL_BACKEND = "mailbox.backends.SmtpEmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    handler.port = port
    yield handler
    controller.stop()


def text_of(message) -> str:
    """The plain-text body of a parsed message (policy.default)."""
    return message.get_body(preferencelist=("plain",)).get_content()


# --- Dovecot ------------------------------------------------------------------------------------------------


@dataclass
class Dovecot:
    root: Path
    port: int
    user: str = "billing"
    password: str = "secret"

    @property
    def url(self) -> str:
        return f"imap://{self.user}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def box(self) -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port).login(self.user, self.password, initial_folder=None)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.box() as box:
            if not box.folder.exists(folder):
                box.folder.create(folder)
            box.append(raw, folder)

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.box() as box:
            return int(box.folder.status(folder)["UIDVALIDITY"])

    def unseen(self, folder: str = "INBOX") -> int:
        with self.box() as box:
            return int(box.folder.status(folder)["UNSEEN"])


DOVECOT_CONF = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = syaga-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
auth_mechanisms = plain login xoauth2 oauthbearer
disable_plaintext_auth = no
auth_failure_delay = 0
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%n/Maildir
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
  mechanisms = plain login
}}
{oauth_passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
{unprivileged}
"""


def _dovecot_or_skip():
    if DOVECOT is None:
        message = (
            "dovecot is not installed: apt-get install dovecot-imapd (REQUIRE_IMAP=1 makes this a failure)"
        )
        if os.environ.get("REQUIRE_IMAP") == "1":
            pytest.fail(message)
        pytest.skip(message)


def start_dovecot(root: Path, *, introspection_url: str = "") -> Dovecot:
    _dovecot_or_skip()
    port = free_port()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text("billing:{PLAIN}secret\n")
    (root / "users").chmod(0o644)
    oauth = ""
    if introspection_url:
        (root / "oauth2.conf.ext").write_text(
            f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        oauth = (
            "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {root}/oauth2.conf.ext\n}}"
        )
    if os.geteuid() == 0:
        shutil.chown(root / "mail", "dovecot", "dovecot")
        uid = gid = "dovecot"
        unprivileged = ""
    else:  # without root: everything runs as the current user (ports above 1024 already)
        uid, gid = str(os.getuid()), str(os.getgid())
        user = os.environ.get("USER") or "nobody"
        unprivileged = f"default_internal_user = {user}\ndefault_login_user = {user}\n"
    conf = root / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.format(
            root=root, port=port, oauth_passdb=oauth, uid=uid, gid=gid, unprivileged=unprivileged
        )
    )
    # Dovecot forks into the background: its output goes to a file, or the pipes would never close.
    with (root / "start.log").open("wb") as log:
        subprocess.run([DOVECOT, "-c", str(conf)], check=True, stdout=log, stderr=log, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.05)
    else:
        raise RuntimeError(f"dovecot did not start: {(root / 'dovecot.log').read_text()[-2000:]}")
    return Dovecot(root=root, port=port)


def stop_dovecot(server: Dovecot) -> None:
    pid_file = server.root / "run" / "master.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


@contextlib.contextmanager
def dovecot_root():
    """A directory Dovecot's own users can reach (pytest's tmp_path sits under a 0700 directory of ours)."""
    root = Path(tempfile.mkdtemp(prefix="syaga-dovecot-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot(settings):
    with dovecot_root() as root:
        server = start_dovecot(root)
        settings.IMAP_URL = server.url
        settings.IMAP_FOLDERS = []
        settings.IMAP_MARK_SEEN = False
        try:
            yield server
        finally:
            stop_dovecot(server)
