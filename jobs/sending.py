"""The SMS sender (issue #28 §3): run every minute by the scheduler and by `flask jobs
send-messages`. It takes the queued messages whose time has come and sends each through the
provider adapter the setting messages.provider names:

- "log" (the default, for development and the demo) writes what it would send and marks it sent;
- "aliyun" is not built yet (see the closing note of #28): choosing it leaves the queue as it is.

A message is sent at most once: it is locked while sent, marked sent in the same transaction,
and its id is the provider's idempotency key (OutId).
"""
import logging

from models import messages
from models.base import utcnow
from models.settings import get_setting

logger = logging.getLogger(__name__)


class ProviderError(Exception):
    """The provider refused a message. `retry` when it may succeed later (5xx, throttling)."""

    def __init__(self, message, *, retry=False):
        super().__init__(message)
        self.retry = retry


class LogProvider:
    """Writes what it would send; every message succeeds."""

    def send(self, message):
        logger.info("SMS %s to %s: %s", message.id, message.phone, message.text)
        return f"log-{message.id}"


class NotConfigured(Exception):
    """The chosen provider cannot send (unknown, or its credentials are missing)."""


def provider_from_settings():
    name = get_setting("messages.provider")
    if name == "log":
        return LogProvider()
    raise NotConfigured(f"SMS provider {name!r} is not available; the queue is kept")


def send_due(now=None, *, provider=None, limit=200):
    """Send the queued messages whose time has come; returns how many were sent. A provider's
    temporary error leaves the message queued (attempts counted) for the next minute."""
    now = now or utcnow()
    provider = provider or provider_from_settings()
    sent = 0
    for message in messages.due_messages(now, limit):
        message.attempts += 1
        try:
            provider_id = provider.send(message)
        except ProviderError as error:
            if error.retry:
                message.error = str(error)[:300]
                continue
            messages.mark_failed(message, error=str(error), now=now)
            continue
        messages.mark_sent(message, provider_id=provider_id, now=now)
        sent += 1
    return sent
