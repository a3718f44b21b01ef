"""What follows an issue (the PDF, the e-mail): tasks registered by name, queued after the issue commits.

Invoicing imports none of the apps that do this work. An app above it registers its task in its
``AppConfig.ready()``::

    after_issue_register(task="mailbox.tasks.invoices_send", label="envoi au client par e-mail")

and the lifecycle, once invoices are issued, records « programmé : … » on each of them and queues every
registered task through django-q2 with the invoice ids, after the issuing transaction commits (never while
it holds the numbering lock). With nothing registered nothing is recorded: the audit trail never says
that something was scheduled when nothing was.
"""

from django.db import transaction
from django_q.tasks import async_task

_AFTER_ISSUE: dict[str, str] = {}


def after_issue_register(*, task: str, label: str) -> None:
    """Queue ``task`` (a dotted path taking ``invoice_ids``) for every issued document; idempotent."""
    _AFTER_ISSUE[task] = label


def after_issue_unregister(*, task: str) -> None:
    _AFTER_ISSUE.pop(task, None)


def after_issue_labels() -> list[str]:
    """What is scheduled after an issue, in French, in registration order (empty: nothing)."""
    return list(_AFTER_ISSUE.values())


def after_issue_schedule(*, invoice_ids: list[int]) -> None:
    """Queue every registered task for these invoices once the current transaction commits."""
    tasks = list(_AFTER_ISSUE)
    if not tasks or not invoice_ids:
        return
    ids = list(invoice_ids)

    def enqueue():
        for task in tasks:
            async_task(task, invoice_ids=ids, task_name=f"{task} ({len(ids)} facture(s))")

    transaction.on_commit(enqueue)
