"""Django's SMTP backend, with two additions: it keeps the server's answer to each message (the send log
shows "250 2.0.0 OK queued as …"), and it signs in with XOAUTH2 when MAIL_AUTH=m365_oauth."""

import smtplib

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

from mailbox.clients.microsoft import m365_credentials, oauth_enabled, xoauth2_string


class SmtpEmailBackend(EmailBackend):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_response = ""
        self.oauth = oauth_enabled()
        if self.oauth:
            self.oauth_user = settings.M365_MAILBOX or self.username
            self.password = ""  # Django's login() must not run: XOAUTH2 below instead

    def open(self):
        opened = super().open()
        if not opened or self.connection is None:
            return opened
        try:
            if self.oauth:
                self._xoauth2()
        except Exception:
            self.close()
            if not self.fail_silently:
                raise
            return None
        self._keep_answers(self.connection)
        return opened

    def _xoauth2(self) -> None:
        credentials = m365_credentials()
        self.connection.ehlo_or_helo_if_needed()
        for attempt in (1, 2):
            auth = xoauth2_string(self.oauth_user, credentials.token())
            try:
                # Refused: the server sends a challenge (a JSON error); the empty answer ends the exchange.
                self.connection.auth("XOAUTH2", lambda challenge=None, auth=auth: "" if challenge else auth)
                return
            except smtplib.SMTPAuthenticationError:
                if attempt == 2:
                    raise
                credentials.invalidate()  # revoked or expired early: one fresh token, then give up

    def _keep_answers(self, connection) -> None:
        original = connection.data

        def data(msg):
            code, answer = original(msg)
            text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
            self.last_response = f"{code} {text}"
            return code, answer

        connection.data = data
