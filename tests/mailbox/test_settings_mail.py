"""EMAIL_URL and DEFAULT_FROM_EMAIL configure sending, as a user writes them in .env."""

import json

from tests.core.test_settings import manage

SHOW = (
    "from django.conf import settings as s; import json; print(json.dumps({k: getattr(s, k) for k in "
    "['EMAIL_BACKEND', 'EMAIL_HOST', 'EMAIL_PORT', 'EMAIL_HOST_USER', 'EMAIL_HOST_PASSWORD', "
    "'EMAIL_USE_TLS', 'DEFAULT_FROM_EMAIL', 'MAIL_MESSAGE_ID_DOMAIN']}))"
)


def test_email_url_configures_the_smtp_backend(tmp_path):
    result = manage(
        "shell",
        "-c",
        SHOW,
        env_extra={
            "EMAIL_URL": "smtp+tls://facturation%40syaga.fr:p%40ss@smtp.office365.com:587",
            "DEFAULT_FROM_EMAIL": "SYAGA Facturation <facturation@syaga.fr>",
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "EMAIL_BACKEND": "mailbox.backends.SmtpEmailBackend",
        "EMAIL_HOST": "smtp.office365.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "facturation@syaga.fr",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "DEFAULT_FROM_EMAIL": "SYAGA Facturation <facturation@syaga.fr>",
        "MAIL_MESSAGE_ID_DOMAIN": "syaga.fr",
    }


def test_a_local_run_without_mail_server_only_writes_its_emails_as_files(tmp_path):
    result = manage("shell", "-c", SHOW, tmp_path=tmp_path, env_extra={"EMAIL_HOST": "", "EMAIL_BACKEND": ""})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["EMAIL_BACKEND"] == (
        "django.core.mail.backends.filebased.EmailBackend"
    )
