"""Is the firm's machine well? One check per part, each « ok », « attention », « en panne » or
« non configuré », with its reason in French. ``manage.py health`` exits 0 only when nothing is « en panne ».

The top floor: it may ask every app.
"""

import contextlib
import datetime as dt
import shutil
import smtplib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule, Task
from django_q.status import Stat

from banking.clients.qonto import QontoConfigError, QontoError
from banking.clients.qonto import client_from_settings as qonto_client
from invoicing.documents.pdf import fast_font_subsetting
from invoicing.models import SellerProfile
from invoicing.selectors import approvers
from invoicing.services.integrity import integrity_verify
from mailbox.clients.microsoft import TokenError, m365_credentials, oauth_enabled
from mailbox.services.connection import imap_config, imap_connect
from syaga.core.errors import BusinessError
from syaga.ops.models import CycleRun, RunStatus
from timetracking.clients.clockify import ClockifyConfigError, ClockifyError
from timetracking.clients.clockify import client_from_settings as clockify_client

OK, WARN, FAIL, NOT_CONFIGURED = "ok", "attention", "en panne", "non configuré"
ARCHIVE_MIN_FREE_BYTES = 1024**3
# A 15-minute schedule overdue by this much means no cluster is taking the work.
CLUSTER_LATE = dt.timedelta(minutes=20)


@dataclass
class Check:
    name: str
    status: str
    detail: str


def _database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    vendor = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite (un seul serveur)"
    return Check("base de données", OK, vendor)


def _cluster(now: dt.datetime) -> Check:
    schedules = list(Schedule.objects.filter(name__startswith="syaga:"))
    if not schedules:
        return Check("tâches planifiées", FAIL, "aucune tâche planifiée : lancez `manage.py setup_schedules`")
    late = [s for s in schedules if s.next_run and s.next_run < now - CLUSTER_LATE]
    if late:
        oldest = min(late, key=lambda s: s.next_run)
        since = timezone.localtime(oldest.next_run)
        return Check(
            "cluster django-q2",
            FAIL,
            f"« {oldest.name} » aurait dû partir le {since:%d/%m/%Y à %H:%M} : aucun cluster ne tourne "
            "(`manage.py qcluster`)",
        )
    return Check("cluster django-q2", OK, f"{len(schedules)} tâches planifiées à l'heure")


def _redis_where(url: str) -> str:
    """host:port/db, never the password a REDIS_URL may carry."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}:{parts.port or 6379}{parts.path or '/0'}"


def _broker(now: dt.datetime | None = None) -> Check:
    """Which broker carries the tasks, and is a cluster alive to take them?"""
    now = now or timezone.now()
    name = "file d'attente django-q2"
    if settings.Q_CLUSTER.get("sync"):
        return Check(name, OK, "exécution immédiate (Q_SYNC) : pas de cluster nécessaire")
    if settings.Q_BROKER == "redis":
        where = f"Redis {_redis_where(settings.Q_CLUSTER.get('redis') or '')}"
        broker = get_broker()
        try:
            broker.ping()
        except Exception as exc:  # redis' ConnectionError, TimeoutError, AuthenticationError…
            return Check(name, FAIL, f"{where} injoignable : {exc}")
        # each cluster keeps a stat key alive in Redis while it runs: the clusters of every machine
        clusters = Stat.get_all(broker)
        if not clusters:
            return Check(name, FAIL, f"{where} : aucun cluster en vie (`manage.py qcluster`, ou `make run`)")
        hosts = ", ".join(sorted(f"{stat.host} (pid {stat.pid})" for stat in clusters))
        return Check(name, OK, f"{where} : {len(clusters)} cluster(s) en vie : {hosts}")
    where = "ORM (la base de données du projet)"
    # the ORM broker's cluster stats live in each process's own cache: what the database shows is read instead
    waiting = OrmQ.objects.filter(lock__lt=now - CLUSTER_LATE).count()
    if waiting:
        return Check(
            name,
            FAIL,
            f"{where} : {waiting} tâche(s) en attente depuis plus de 20 minutes, aucun cluster ne les prend "
            "(`manage.py qcluster`, ou `make run`)",
        )
    last = Task.objects.exclude(stopped__isnull=True).order_by("-stopped").values_list("stopped", flat=True)
    stopped = last.first()
    if stopped is not None and stopped >= now - CLUSTER_LATE:
        return Check(
            name,
            OK,
            f"{where} : cluster en vie, dernière tâche terminée le "
            f"{timezone.localtime(stopped):%d/%m/%Y à %H:%M}",
        )
    since = f"depuis le {timezone.localtime(stopped):%d/%m/%Y à %H:%M}" if stopped else "encore jamais"
    return Check(
        name,
        WARN,
        f"{where} : aucune tâche terminée {since}, un cluster tourne-t-il ? (`manage.py qcluster`, ou "
        "`make run`)",
    )


def _last_runs() -> list[Check]:
    schedules = list(Schedule.objects.filter(name__startswith="syaga:").order_by("name"))
    tasks = {t.id: t for t in Task.objects.filter(id__in=[s.task for s in schedules if s.task])}
    checks = []
    for schedule in schedules:
        task = tasks.get(schedule.task)
        name = f"dernière exécution de {schedule.name.removeprefix('syaga:')}"
        if task is None:
            checks.append(Check(name, OK, "pas encore exécutée"))
        elif task.success:
            checks.append(Check(name, OK, f"réussie le {timezone.localtime(task.stopped):%d/%m/%Y à %H:%M}"))
        else:
            first_line = str(task.result or "").strip().splitlines()[:1]
            checks.append(
                Check(
                    name,
                    FAIL,
                    f"échec le {timezone.localtime(task.stopped):%d/%m/%Y à %H:%M}"
                    + (f" : {first_line[0]}" if first_line else ""),
                )
            )
    return checks


def _last_cycle() -> Check:
    run = CycleRun.objects.filter(dry_run=False).order_by("-started_at").first()
    if run is None:
        return Check("dernier cycle", WARN, "aucun cycle n'a encore tourné")
    when = timezone.localtime(run.started_at)
    if run.status == RunStatus.FAILED:
        failed = ", ".join(run.steps.filter(status="failed").values_list("label", flat=True))
        return Check("dernier cycle", FAIL, f"{run} ({when:%d/%m %H:%M}) : en échec ({failed})")
    return Check("dernier cycle", OK, f"{run} ({when:%d/%m %H:%M}) : {run.get_status_display()}")


def _qonto() -> Check:
    try:
        client = qonto_client(max_retries=1)
    except QontoConfigError:
        return Check(
            "Qonto", NOT_CONFIGURED, "pas d'identifiants Qonto (QONTO_LOGIN/QONTO_SECRET_KEY ou OAuth)"
        )
    try:
        organization = client.get_organization()
    except QontoError as exc:
        return Check("Qonto", FAIL, f"injoignable ou refusé : {exc}")
    name = (organization.get("organization") or {}).get("slug") or "organisation"
    return Check("Qonto", OK, f"joignable ({name})")


def _nearest_existing(folder: Path) -> Path:
    """The folder, or its nearest parent that exists: the disk the folder will be created on."""
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _archive_disk() -> Check:
    folder = Path(getattr(settings, "INVOICE_PDF_DIR", settings.VAR_DIR))
    probe = _nearest_existing(folder)
    free = shutil.disk_usage(probe).free
    gigabytes = f"{free / 1024**3:.1f}".replace(".", ",")
    where = f"sous {probe}" if probe == folder.absolute() else f"sous {probe} ({folder} pas encore créé)"
    if free < ARCHIVE_MIN_FREE_BYTES:
        return Check("espace disque des archives", FAIL, f"{gigabytes} Go libres {where} : moins de 1 Go")
    return Check("espace disque des archives", OK, f"{gigabytes} Go libres {where}")


def _weasyprint_fonts() -> Check:
    if fast_font_subsetting():
        return Check(
            "polices des PDF (WeasyPrint)", OK, "libharfbuzz-subset présent : sous-ensembles rapides"
        )
    return Check(
        "polices des PDF (WeasyPrint)",
        WARN,
        "libharfbuzz-subset absent : les PDF sont environ 6 fois plus lents "
        "(apt-get install libharfbuzz-subset0)",
    )


def _clockify() -> Check:
    try:
        client = clockify_client(max_retries=1)
    except ClockifyConfigError:
        return Check("Clockify", NOT_CONFIGURED, "pas de clé CLOCKIFY_API_KEY")
    try:
        user = client.current_user()
    except ClockifyError as exc:
        return Check("Clockify", FAIL, f"injoignable ou refusé : {exc}")
    return Check("Clockify", OK, f"joignable ({user.get('email') or user.get('name') or 'clé valide'})")


def _m365_token() -> list[Check]:
    if not oauth_enabled():
        return []
    try:
        m365_credentials().token()
    except TokenError as exc:
        return [Check("jeton Microsoft 365", FAIL, str(exc))]
    return [Check("jeton Microsoft 365", OK, "obtenu")]


def _smtp() -> Check:
    """The sending server, reached for real: a connection opened and closed."""
    if settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
        return Check(
            "SMTP",
            NOT_CONFIGURED,
            f"pas de serveur d'envoi (EMAIL_URL) : e-mails écrits dans {settings.EMAIL_FILE_PATH}",
        )
    if "smtp" not in settings.EMAIL_BACKEND.lower():
        return Check("SMTP", NOT_CONFIGURED, f"pas de serveur d'envoi (EMAIL_URL) : {settings.EMAIL_BACKEND}")
    where = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    mail = get_connection(fail_silently=False)
    try:
        mail.open()
    except (OSError, smtplib.SMTPException, BusinessError) as exc:
        return Check("SMTP", FAIL, f"{where} : {exc}")
    finally:
        with contextlib.suppress(Exception):
            mail.close()
    return Check("SMTP", OK, f"{where} accepte la connexion")


def _imap() -> Check:
    """The watched inbox, opened for real, whether or not mail can be sent."""
    if not settings.IMAP_URL:
        return Check("IMAP", NOT_CONFIGURED, "pas de boîte surveillée (IMAP_URL)")
    try:
        config = imap_config()
        with imap_connect(config) as box:
            box.folder.status(config.folders[0])
    except Exception as exc:  # imaplib's errors, a refused sign-in, a bad URL: all « en panne »
        return Check("IMAP", FAIL, str(exc))
    return Check("IMAP", OK, f"{config.account} / {config.folders[0]} lisible")


def _integrity() -> Check:
    report = integrity_verify()
    if report.intact:
        return Check("intégrité des factures", OK, report.summary())
    first = "; ".join(str(finding) for finding in report.findings[:3])
    return Check("intégrité des factures", FAIL, f"{report.summary()} : {first}")


def _four_eyes() -> Check:
    seller = SellerProfile.current()
    if seller is not None and not seller.four_eyes_approval:
        return Check("validation à quatre yeux", WARN, "désactivée dans le profil vendeur")
    count = approvers().count()
    if count < 2:
        return Check(
            "validation à quatre yeux",
            FAIL,
            f"{count} personne(s) peuvent approuver : il en faut deux pour que la validation à quatre yeux "
            "s'applique",
        )
    return Check("validation à quatre yeux", OK, f"{count} personnes peuvent approuver")


CHECKS: list[Callable[[], Check | list[Check]]] = [
    _database,
    lambda: _cluster(timezone.now()),
    _broker,
    _last_runs,
    _last_cycle,
    _qonto,
    _clockify,
    _m365_token,
    _smtp,
    _imap,
    _integrity,
    _archive_disk,
    _weasyprint_fonts,
    _four_eyes,
]


# What a check that raised is called in the report (the others name themselves).
CHECK_NAMES = {
    "_database": "base de données",
    "<lambda>": "cluster django-q2",
    "_broker": "file d'attente django-q2",
    "_last_runs": "dernières exécutions",
    "_last_cycle": "dernier cycle",
    "_qonto": "Qonto",
    "_clockify": "Clockify",
    "_m365_token": "jeton Microsoft 365",
    "_smtp": "SMTP",
    "_imap": "IMAP",
    "_integrity": "intégrité des factures",
    "_archive_disk": "espace disque des archives",
    "_weasyprint_fonts": "polices des PDF (WeasyPrint)",
    "_four_eyes": "validation à quatre yeux",
}


def health_checks() -> list[Check]:
    """Every check, each protected: a check that raises is itself « en panne » with the reason."""
    results: list[Check] = []
    for check in CHECKS:
        try:
            outcome = check()
        except Exception as exc:  # a broken check must not hide the others
            name = CHECK_NAMES.get(getattr(check, "__name__", ""), "contrôle")
            outcome = Check(name, FAIL, f"{type(exc).__name__} : {exc}")
        results.extend(outcome if isinstance(outcome, list) else [outcome])
    return results


def health_report() -> dict:
    checks = health_checks()
    return {"ok": all(c.status != FAIL for c in checks), "checks": [asdict(c) for c in checks]}
