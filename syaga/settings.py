"""One settings module for every environment, read through django-environ.

With no environment at all the project runs locally: SQLite under ``var/``, DEBUG off, a secret key
generated once into ``var/secret_key``. Setting ``ALLOWED_HOSTS`` switches to production mode (behind
HTTPS): SECRET_KEY becomes mandatory and the security settings that ``check --deploy`` asks for are on.
Every variable is documented in ``.env.example``.
"""

import datetime as dt
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
PRODUCTION = bool(ALLOWED_HOSTS)


def _local_secret_key() -> str:
    """A random key kept in var/ so that sessions survive restarts on a developer's machine."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. ALLOWED_HOSTS is set, so this is production mode and the key must come "
            "from the environment (see .env.example), e.g. SECRET_KEY=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(64))')."
        )
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    # Django's own admin, whose first page is the owner's dashboard (syaga.ops.admin_site.BackOfficeSite).
    "syaga.ops.apps.BackOfficeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "pgtrigger",
    "axes",
    "syaga.core",
    "invoicing",
    "banking",
    "timetracking",
    "mailbox",
    "reconciliation",
    "syaga.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "syaga.core.middleware.StaffRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "syaga.urls"
WSGI_APPLICATION = "syaga.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The web server and the django-q2 cluster write to one SQLite file. A transaction that reads first and
    # writes later (issuing an invoice) cannot wait for the other writer: SQLite answers "database is locked"
    # at once. IMMEDIATE takes the write lock at BEGIN, where the busy timeout applies; WAL lets readers go
    # on while one process writes; synchronous=NORMAL is the durable setting for WAL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr-fr"
# The firm reads French: the admin speaks it whatever the browser asks for.
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True
# Dates dd/mm/yyyy and numbers 1 234,56 wherever Django formats them (syaga/formats/fr/formats.py).
FORMAT_MODULE_PATH = ["syaga.formats"]
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"

LOGIN_URL = "admin:login"

# Issued invoices' PDFs (Factur-X), written once by the worker as <year>/<number>.pdf: keep and back it up
# for ten years (code de commerce L123-22).
INVOICE_PDF_DIR = env.path("INVOICE_PDF_DIR", default=str(VAR_DIR / "invoices"))

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one IP
# address, that pair is locked for AXES_COOLOFF_MINUTES (a French page, HTTP 429); a success resets the count.
# An administrator unlocks earlier by deleting the attempt in the admin or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
# Behind a reverse proxy every request comes from the proxy's address: REVERSE_PROXY_COUNT (nginx alone: 1)
# makes the lockout read the client's address from what the proxies append to X-Forwarded-For.
REVERSE_PROXY_COUNT = env.int("REVERSE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "syaga.core.access.client_ip"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="facturation@localhost")

# Payment matching: what a bank may deduct (the larger of the amount and the percentage) and what to do with
# it (write_off: the invoice is paid; leave_open: the shortfall stays due), and a tolerated overpayment.
MATCHING_FEE_TOLERANCE = env.str("MATCHING_FEE_TOLERANCE", default="2.00")
MATCHING_FEE_TOLERANCE_PERCENT = env.str("MATCHING_FEE_TOLERANCE_PERCENT", default="0.5")
MATCHING_FEE_POLICY = env.str("MATCHING_FEE_POLICY", default="write_off")
MATCHING_OVERPAYMENT_TOLERANCE = env.str("MATCHING_OVERPAYMENT_TOLERANCE", default="5.00")
# A named invoice paid by a known payer with up to this much more: applied, the excess to the client's credit.
MATCHING_NAMED_OVERPAYMENT_LIMIT = env.str("MATCHING_NAMED_OVERPAYMENT_LIMIT", default="50.00")

# Qonto (banking issue): API key or OAuth, see .env.example.
QONTO_API_URL = env.str("QONTO_API_URL", default="https://thirdparty.qonto.com/v2")
QONTO_LOGIN = env.str("QONTO_LOGIN", default="")
QONTO_SECRET_KEY = env.str("QONTO_SECRET_KEY", default="")
QONTO_STAGING_TOKEN = env.str("QONTO_STAGING_TOKEN", default="")
QONTO_OAUTH_CLIENT_ID = env.str("QONTO_OAUTH_CLIENT_ID", default="")
QONTO_OAUTH_CLIENT_SECRET = env.str("QONTO_OAUTH_CLIENT_SECRET", default="")
QONTO_OAUTH_TOKEN_URL = env.str("QONTO_OAUTH_TOKEN_URL", default="https://oauth.qonto.com/oauth2/token")
QONTO_OAUTH_REDIRECT_URI = env.str("QONTO_OAUTH_REDIRECT_URI", default="")
QONTO_OAUTH_REFRESH_TOKEN = env.str("QONTO_OAUTH_REFRESH_TOKEN", default="")
QONTO_WEBHOOK_SECRET = env.str("QONTO_WEBHOOK_SECRET", default="")
# A Qonto event is a few kilobytes; larger bodies are refused (413) before they are read.
QONTO_WEBHOOK_MAX_BYTES = env.int("QONTO_WEBHOOK_MAX_BYTES", default=256 * 1024)

# django-q2: the ORM broker on the project's database by default (one machine); Q_BROKER=redis with REDIS_URL
# lets clusters on several processes or machines share the work through one Redis server.
Q_BROKER = env.str("Q_BROKER", default="orm")
if Q_BROKER not in ("orm", "redis"):
    raise ImproperlyConfigured(f"Q_BROKER must be 'orm' or 'redis', not {Q_BROKER!r}")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="syaga"),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 300,
    "retry": 420,
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "recycle": 200,
    "time_zone": TIME_ZONE,
    "sync": env.bool("Q_SYNC", default=False),
}
if Q_BROKER == "redis":
    Q_CLUSTER["redis"] = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Failed sign-ins and lockouts are warnings; the start-up banner and each success would be noise.
        "axes": {"level": "WARNING"},
        # WeasyPrint and factur-x narrate every document at INFO: one line per step, hundreds per batch.
        "weasyprint": {"level": "WARNING"},
        "factur-x": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # `make run` sets WARNING: the cluster's start-up and per-task lines would bury the sign-in details.
        "django-q": {"level": env.str("Q_LOG_LEVEL", default="INFO")},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    CSRF_TRUSTED_ORIGINS = env.list(
        "CSRF_TRUSTED_ORIGINS", default=[f"https://{h}" for h in ALLOWED_HOSTS if h and not h.startswith(".")]
    )
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True

# Time tracking (Clockify, see .env.example). Without CLOCKIFY_API_KEY the sync is skipped with one notice;
# the workspace defaults to the key owner's active workspace.
CLOCKIFY_API_URL = env.str("CLOCKIFY_API_URL", default="https://api.clockify.me/api/v1")
CLOCKIFY_API_KEY = env.str("CLOCKIFY_API_KEY", default="")
CLOCKIFY_WORKSPACE_ID = env.str("CLOCKIFY_WORKSPACE_ID", default="")
# Billing FACTURABLE time (bill_timesheets): the firm's rate for a client without its own hourly rate (€ HT),
# and the rounding rule stated on each invoice: unit minute | quarter | half, per entry | line, to the
# nearest unit (half rounds up) | always up. Lines group the month's time per project | task.
TIMESHEET_DEFAULT_HOURLY_RATE = env.str("TIMESHEET_DEFAULT_HOURLY_RATE", default="110.00")
TIMESHEET_ROUNDING_UNIT = env.str("TIMESHEET_ROUNDING_UNIT", default="quarter")
TIMESHEET_ROUNDING_SCOPE = env.str("TIMESHEET_ROUNDING_SCOPE", default="line")
TIMESHEET_ROUNDING_DIRECTION = env.str("TIMESHEET_ROUNDING_DIRECTION", default="nearest")
TIMESHEET_LINE_GROUPING = env.str("TIMESHEET_LINE_GROUPING", default="project")
# Coaching reminders: a timer running longer than N hours, no timer for M minutes within working hours
# (working days 0 = Monday), and the revenue equivalent one consultant is expected to make a day (€ HT).
COACHING_TIMER_MAX_HOURS = env.int("COACHING_TIMER_MAX_HOURS", default=4)
COACHING_IDLE_MINUTES = env.int("COACHING_IDLE_MINUTES", default=30)
COACHING_WORKING_HOURS = env.str("COACHING_WORKING_HOURS", default="09:00-12:30,13:30-18:00")
COACHING_WORKING_DAYS = env.str("COACHING_WORKING_DAYS", default="0,1,2,3,4")
# French public holidays (month-end billing, coaching): a territory adds its own days, e.g. "57" for Moselle.
PUBLIC_HOLIDAYS_SUBDIVISION = env.str("PUBLIC_HOLIDAYS_SUBDIVISION", default="")
COACHING_DAILY_TARGET = env.str("COACHING_DAILY_TARGET", default="880.00")

# --- Mail (mailbox app): sending, dunning, the watched inbox, Microsoft 365 OAuth. See .env.example. --------
# EMAIL_URL (smtp://, smtp+tls:// for STARTTLS on 587, smtp+ssl:// for 465) replaces the EMAIL_HOST* variables
# above. The project's backend is Django's SMTP backend that also logs the server's answer to each message
# and signs in with XOAUTH2 when MAIL_AUTH=m365_oauth.
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_HOST = _email["EMAIL_HOST"] or EMAIL_HOST
    EMAIL_PORT = _email["EMAIL_PORT"] or EMAIL_PORT
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
    EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
    if _email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend":
        EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="mailbox.backends.SmtpEmailBackend")
    else:
        EMAIL_BACKEND = _email["EMAIL_BACKEND"]
elif not PRODUCTION and not env.str("EMAIL_HOST", default="") and not env.str("EMAIL_BACKEND", default=""):
    # A local run with no mail server configured: the demo's invoices and reminders are written as files in
    # var/mail/ (one per message, to open in any mail reader), never handed to whatever SMTP server listens
    # on this machine, nor printed over the server's log.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
elif EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    EMAIL_BACKEND = "mailbox.backends.SmtpEmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
# The domain after @ in our Message-IDs (<invoice-F20250012.1@domain>): the sender's domain by default.
MAIL_MESSAGE_ID_DOMAIN = env.str("MAIL_MESSAGE_ID_DOMAIN", default="") or (
    DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">").strip() or "localhost"
)
MAIL_REPLY_TO = env.str("MAIL_REPLY_TO", default="")  # the watched inbox, when it is not the sender
MAIL_ALERT_TO = env.list("MAIL_ALERT_TO", default=[])  # urgent disputes, daily report (else the seller's)
# Failed sends are tried again after these delays (minutes); after the last one the message is given up.
MAIL_RETRY_MINUTES = env.list("MAIL_RETRY_MINUTES", cast=int, default=[5, 15, 60, 240, 720])
# A run that claimed a message and died: after this lease the message is looked at again.
MAIL_SEND_LEASE_SECONDS = env.int("MAIL_SEND_LEASE_SECONDS", default=600)
# Issued invoices older than this are never e-mailed by the daily cycle (history imports, old documents).
MAIL_SEND_MAX_AGE_DAYS = env.int("MAIL_SEND_MAX_AGE_DAYS", default=30)
MAIL_OPEN_TRACKING = env.bool("MAIL_OPEN_TRACKING", default=False)
MAIL_PUBLIC_URL = env.str("MAIL_PUBLIC_URL", default="")  # https://billing.example.fr, for the open pixel
# Dunning: the minimum days between two reminders of one invoice, and how long a payment promise holds
# reminders after its date (the transfer takes a few days to show on the bank account).
MAIL_DUNNING_MIN_GAP_DAYS = env.int("MAIL_DUNNING_MIN_GAP_DAYS", default=7)
MAIL_PROMISE_GRACE_DAYS = env.int("MAIL_PROMISE_GRACE_DAYS", default=5)
MAIL_PROMISE_DEFAULT_DAYS = env.int("MAIL_PROMISE_DEFAULT_DAYS", default=7)
# Mail provider authentication: "password" (any standard server) or "m365_oauth" (Microsoft 365, Entra app
# with the client credentials grant; XOAUTH2 for SMTP and IMAP).
MAIL_AUTH = env.str("MAIL_AUTH", default="password")
M365_TENANT_ID = env.str("M365_TENANT_ID", default="")
M365_CLIENT_ID = env.str("M365_CLIENT_ID", default="")
M365_CLIENT_SECRET = env.str("M365_CLIENT_SECRET", default="")
M365_TOKEN_URL = env.str("M365_TOKEN_URL", default="")  # default: login.microsoftonline.com/<tenant>/...
M365_SCOPE = env.str("M365_SCOPE", default="https://outlook.office365.com/.default")
M365_MAILBOX = env.str("M365_MAILBOX", default="")  # the mailbox signed in to (default: the URL's user)
# The watched inbox: imaps://user:password@host:993/INBOX (imap:// plain, imap+tls:// STARTTLS).
IMAP_URL = env.str("IMAP_URL", default="")
IMAP_FOLDERS = env.list("IMAP_FOLDERS", default=[])  # more folders than the URL's
IMAP_MARK_SEEN = env.bool("IMAP_MARK_SEEN", default=False)
IMAP_TIMEOUT = env.int("IMAP_TIMEOUT", default=60)
IMAP_FIRST_RUN_DAYS = env.int("IMAP_FIRST_RUN_DAYS", default=30)  # first run, or after a UIDVALIDITY change
IMAP_MAX_MESSAGE_BYTES = env.int("IMAP_MAX_MESSAGE_BYTES", default=15 * 1024 * 1024)

# --- The seeds' indicators on the first page (syaga.ops.selectors.indicators). See .env.example. ------------
# Targets: invoice issued < 48 h after the service ends, paid < 30 days after issue, DSO < 30 days, > 98 %
# of what fell due collected, 100 % of invoices issued by the rules, 0 invoice forgotten.
KPI_TARGET_ISSUE_DELAY_HOURS = env.int("KPI_TARGET_ISSUE_DELAY_HOURS", default=48)
KPI_TARGET_PAYMENT_DELAY_DAYS = env.int("KPI_TARGET_PAYMENT_DELAY_DAYS", default=30)
KPI_TARGET_DSO_DAYS = env.int("KPI_TARGET_DSO_DAYS", default=30)
KPI_TARGET_RECOVERY_PERCENT = env.str("KPI_TARGET_RECOVERY_PERCENT", default="98")
KPI_TARGET_AUTOMATED_PERCENT = env.str("KPI_TARGET_AUTOMATED_PERCENT", default="100")
KPI_TARGET_FORGOTTEN = env.int("KPI_TARGET_FORGOTTEN", default=0)
# The days the delays, the automated share and the forgotten time are read over (ending today), and the
# days of due dates the recovery rate is read over (ending yesterday).
KPI_WINDOW_DAYS = env.int("KPI_WINDOW_DAYS", default=90)
KPI_RECOVERY_WINDOW_DAYS = env.int("KPI_RECOVERY_WINDOW_DAYS", default=365)

# The weekly three-way reconciliation: the accounting software's latest sales export (Oxygène CSV), when the
# accountant drops it where this machine can read it; without it the database is compared with the PDFs only.
RECONCILE_OXYGEN_FILE = env.str("RECONCILE_OXYGEN_FILE", default="")
