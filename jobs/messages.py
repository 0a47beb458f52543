"""The message jobs (issue #28): the reminder the day before an event, queued nightly for each
confirmed guest. Written once per (template, event, guest) by the outbox's unique key, so a
re-run night, a second scheduler or a catch-up queues nothing twice."""
import logging
from datetime import timedelta

from models import messages

logger = logging.getLogger(__name__)

JOB_REMINDERS = "event-reminders"


def event_reminders(day, now):
    """Queue the reminder template for the confirmed guests of the events starting the day
    after `day`; returns the messages queued (none without an active reminder template)."""
    template = messages.reminder_template()
    if template is None:
        logger.info("No active reminder template: no reminders queued")
        return 0
    written = 0
    for event in messages.events_on(day + timedelta(days=1)):
        queued, refused = messages.queue_event_messages(event, template, job=JOB_REMINDERS,
                                                        now=now)
        written += len(queued)
        logger.info("Event %s: %s reminders queued, %s not", event.id, len(queued),
                    len(refused))
    return written
