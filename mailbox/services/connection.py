"""Where the inbox is and how to sign in: IMAP_URL read once, password or Microsoft 365 OAuth (XOAUTH2)."""

import contextlib
import smtplib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.mail import get_connection
from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

from mailbox.clients.microsoft import TokenError, m365_credentials, oauth_enabled
from syaga.core.errors import BusinessError

SCHEMES = {"imaps": 993, "imap": 143, "imap+tls": 143, "imap+starttls": 143}


@dataclass(frozen=True)
class ImapConfig:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    folders: tuple[str, ...]

    @property
    def account(self) -> str:
        return f"{self.user}@{self.host}"


def imap_config(url: str | None = None) -> ImapConfig:
    """Read ``imaps://user:password@host:993/INBOX`` (imap:// plain, imap+tls:// STARTTLS). With
    MAIL_AUTH=m365_oauth the password is left out and the user is the mailbox."""
    raw = url if url is not None else settings.IMAP_URL
    if not raw:
        raise BusinessError(
            "IMAP_URL n'est pas défini (ex. imaps://facturation%40exemple.fr:motdepasse@hôte:993/INBOX)"
        )
    parts = urlsplit(raw)
    if parts.scheme not in SCHEMES:
        raise BusinessError(f"IMAP_URL : schéma « {parts.scheme} » inconnu (imaps, imap+tls ou imap)")
    if not parts.hostname:
        raise BusinessError("IMAP_URL : hôte manquant")
    user = unquote(parts.username or "") or settings.M365_MAILBOX
    if not user:
        raise BusinessError("IMAP_URL : utilisateur manquant")
    password = unquote(parts.password or "")
    if not password and not oauth_enabled():
        raise BusinessError("IMAP_URL : mot de passe manquant (ou MAIL_AUTH=m365_oauth)")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    folders = tuple(dict.fromkeys([folder, *settings.IMAP_FOLDERS]))
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError as exc:
        raise BusinessError(f"IMAP_URL : port invalide ({exc})") from exc
    return ImapConfig(parts.scheme, parts.hostname, port, user, password, folders)


def imap_connect(config: ImapConfig) -> MailBox:
    """A signed-in mailbox (no folder selected yet)."""
    timeout = settings.IMAP_TIMEOUT
    if config.scheme == "imaps":
        box = MailBox(config.host, config.port, timeout=timeout)
    elif config.scheme == "imap":
        box = MailBoxUnencrypted(config.host, config.port, timeout=timeout)
    else:
        box = MailBoxStartTls(config.host, config.port, timeout=timeout)
    if oauth_enabled():
        credentials = m365_credentials()
        try:
            return box.xoauth2(config.user, credentials.token(), initial_folder=None)
        except Exception:
            credentials.invalidate()
            box = type(box)(config.host, config.port, timeout=timeout)
            return box.xoauth2(config.user, credentials.token(), initial_folder=None)
    return box.login(config.user, config.password, initial_folder=None)


@dataclass(frozen=True)
class HealthLine:
    name: str
    ok: bool
    detail: str


def mail_health(*, check_servers: bool = True) -> list[HealthLine]:
    """For ``health``: can the OAuth token be obtained, does the SMTP server take us, does the inbox open."""
    lines = []
    if oauth_enabled():
        try:
            m365_credentials().token()
            lines.append(HealthLine("jeton Microsoft 365", True, "obtenu"))
        except TokenError as exc:
            lines.append(HealthLine("jeton Microsoft 365", False, str(exc)))
    if not check_servers:
        return lines
    connection = get_connection(fail_silently=False)
    try:
        connection.open()
        lines.append(
            HealthLine("SMTP", True, f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT} accepte la connexion")
        )
    except (OSError, smtplib.SMTPException, BusinessError) as exc:
        lines.append(HealthLine("SMTP", False, f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT} : {exc}"))
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    if settings.IMAP_URL:
        try:
            config = imap_config()
            with imap_connect(config) as box:
                box.folder.status(config.folders[0])
            lines.append(HealthLine("IMAP", True, f"{config.account} / {config.folders[0]} lisible"))
        except Exception as exc:
            lines.append(HealthLine("IMAP", False, str(exc)))
    return lines
