"""The SMS sender (#28 §3): the log provider marks due messages sent, leaves those in quiet hours
and WeChat ones alone, never sends one twice; a temporary provider error keeps the message
queued, a permanent one marks it failed; an unavailable provider keeps the queue."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db as _db
from jobs import send_messages, sending
from models import messages as m
from models.base import utcnow
from tests.factories import make_customer


def queued(subject, *, channel="sms", now=None):
    return m.queue_message(make_customer(), text="您好", channel=channel, subject_key=subject,
                           job="test", now=now or utcnow().replace(hour=4))  # 12:00 local


def test_the_log_provider_sends_what_is_due_once(db):
    now = utcnow().replace(hour=4)
    due, wechat = queued("a", now=now), queued("b", channel="wechat", now=now)
    later = queued("c", now=now)
    later.send_after = now + timedelta(hours=1)
    assert sending.send_due(now, provider=sending.LogProvider()) == 1
    assert (due.status, due.provider_id, due.attempts) == ("sent", f"log-{due.id}", 1)
    assert wechat.status == "queued" and later.status == "queued"
    assert sending.send_due(now, provider=sending.LogProvider()) == 0  # never twice


class Failing:
    def __init__(self, retry):
        self.retry = retry

    def send(self, message):
        raise sending.ProviderError("isv.BUSINESS_LIMIT_CONTROL", retry=self.retry)


@pytest.mark.parametrize("retry, status", [(True, "queued"), (False, "failed")])
def test_provider_errors(db, retry, status):
    message = queued("a")
    assert sending.send_due(utcnow().replace(hour=5), provider=Failing(retry)) == 0
    assert message.status == status and message.error == "isv.BUSINESS_LIMIT_CONTROL"
    assert message.attempts == 1


def test_an_unknown_provider_keeps_the_queue(db, monkeypatch):
    monkeypatch.setattr(sending, "get_setting", lambda key: "aliyun")
    with pytest.raises(sending.NotConfigured):
        sending.provider_from_settings()


def test_the_command_sends_and_commits(committed_db, app):
    message = queued("cmd", now=utcnow() - timedelta(days=1))
    message.send_after = utcnow() - timedelta(minutes=1)
    committed_db.session.commit()
    assert send_messages(app) == 1
    committed_db.session.expire_all()
    assert committed_db.session.scalar(select(m.Message.status)
                                       .where(m.Message.id == message.id)) == "sent"
