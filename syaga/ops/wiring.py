"""What the top floor connects between apps that must not import each other.

The coaching reminders of time tracking reach the consultants through the mail app's sending service
(with its log, retries, and one send per reminder key).
"""

from mailbox.services.sending import mail_send
from timetracking.models import Reminder
from timetracking.services.coaching import reminder_sender_register


def coaching_reminder_send(reminder: Reminder) -> None:
    mail_send(
        to=[reminder.consultant.email],
        subject=reminder.subject,
        body=reminder.body,
        key=f"coaching:{reminder.key}",
    )


def wire() -> None:
    reminder_sender_register(coaching_reminder_send)
