"""The Aliyun SMS adapter (#28 §3) against a local fake provider (tests/fake_aliyun.py) that
checks each request's V3 signature with the test's secret and answers as Aliyun documents:
success (sent, provider id = BizId, the template's code and filled fields as its parameters, the
message id as OutId), throttling then success (sent once, 2 attempts), a permanent error (failed
with the provider's words), 5xx retried with backoff, an answer lost on the way back (found by
its OutId, not sent again), attempts run out, the AccessKey missing (the queue kept, a clear
message from the command), a wrong secret refused by the fake, QuerySendDetails → delivered or
failed, and many messages sent 4 at a time, each once. No request leaves 127.0.0.1."""
import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from extensions import db as _db
from jobs import send_messages, sending
from models import messages as m
from models.base import utcnow
from models.settings import update_settings
from tests.factories import make_customer, make_user
from tests.fake_aliyun import FakeAliyun

NOW = utcnow().replace(hour=4, minute=0, second=0, microsecond=0)  # 12:00 in Shanghai
MINUTE = timedelta(minutes=1)


@pytest.fixture
def fake():
    provider = FakeAliyun(now=lambda: NOW).start()
    yield provider
    provider.stop()


@pytest.fixture
def aliyun(app, fake, monkeypatch):
    """Settings naming the fake as the Aliyun endpoint, and its AccessKey in the environment
    (no proxy: the requests go straight to 127.0.0.1)."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(sending.ENV_KEY_ID, fake.access_key_id)
    monkeypatch.setenv(sending.ENV_KEY_SECRET, fake.access_key_secret)

    def configure():
        update_settings({"messages.provider": "aliyun", "messages.aliyun_sign_name": "会销通",
                         "messages.aliyun_endpoint": fake.endpoint,
                         "messages.aliyun_protocol": "http"},
                        actor=make_user(["admin"], username="sms-admin"))
    return configure


@pytest.fixture
def template(db):
    return m.save_template(None, name="关怀", purpose="free", provider_code="SMS_465900001",
                           body="{称呼}您好，您的顾问{顾问}祝您健康。",
                           actor=make_user(["admin"]))


def queued(template, *, name="张秀兰", token="t1"):
    owner = make_user(["marketer"], display_name="刘芳")
    customer = make_customer(owner, name=name, gender="F", birth_year=1950)
    return m.queue_customer_message(customer, template=template, channel="sms",
                                    actor=owner, token=token, now=NOW)


def national(message):
    return message.phone[3:]


def send(now=NOW, **options):
    return sending.send_due(now, **options)


def test_a_message_is_sent_with_the_template_code_its_fields_and_its_id(db, aliyun, fake,
                                                                      template):
    aliyun()
    message = queued(template)
    assert message.params == {"称呼": "张阿姨", "顾问": "刘芳"}
    assert send() == 1
    [record] = fake.sent.values()
    assert (message.status, message.provider_id, message.attempts, message.error) == \
        ("sent", record["BizId"], 1, "")
    assert record["PhoneNumbers"] == national(message)
    assert (record["SignName"], record["TemplateCode"], record["OutId"]) == \
        ("会销通", "SMS_465900001", str(message.id))
    assert record["TemplateParam"] == {"salutation": "张阿姨", "adviser": "刘芳"}
    assert fake.rejected == [] and fake.calls["QuerySendDetails"] == 0
    assert send() == 0 and len(fake.sent) == 1  # never twice


def test_throttled_then_sent_once(db, aliyun, fake, template):
    aliyun()
    message = queued(template)
    fake.answers[national(message)] = ["limit"]
    assert send() == 0
    assert (message.status, message.attempts, message.send_after) == ("queued", 1, NOW + MINUTE)
    assert message.error == "isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控Permits:1"
    assert send(NOW + MINUTE / 2) == 0 and fake.calls["SendSms"] == 1  # not before its time
    assert send(NOW + MINUTE) == 1
    assert (message.status, message.attempts, message.error) == ("sent", 2, "")
    assert len(fake.sent_with(message.id)) == 1
    # Before sending again it asked whether the first attempt had gone out after all.
    assert fake.calls["QuerySendDetails"] >= 1


def test_a_permanent_error_fails_the_message_with_the_providers_words(db, aliyun, fake,
                                                                      template):
    aliyun()
    message, other = queued(template), queued(template, name="李四", token="t2")
    fake.answers[national(message)] = ["mobile"]
    fake.answers[national(other)] = ["template"]
    assert send() == 0
    assert (message.status, message.attempts, message.error) == \
        ("failed", 1, "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号")
    assert (other.status, other.error) == ("failed", "isv.SMS_TEMPLATE_ILLEGAL: 该账号下找不到对应模板")
    assert send(NOW + timedelta(hours=2)) == 0 and fake.sent == {}


def test_5xx_and_gateway_throttling_are_retried_with_a_growing_wait(db, aliyun, fake, template):
    aliyun()
    message = queued(template)
    fake.answers[national(message)] = ["unavailable", "throttling"]
    assert send() == 0
    assert message.status == "queued" and message.error.startswith("ServiceUnavailable: ")
    assert message.send_after == NOW + MINUTE
    assert send(NOW + MINUTE) == 0
    assert message.error.startswith("Throttling.User: ")
    assert message.send_after == NOW + 3 * MINUTE  # 1 minute, then 2
    assert send(NOW + 3 * MINUTE) == 1
    assert (message.status, message.attempts) == ("sent", 3)
    assert len(fake.sent_with(message.id)) == 1


def test_an_answer_lost_on_the_way_back_is_not_sent_again(db, aliyun, fake, template):
    aliyun()
    message = queued(template)
    fake.answers[national(message)] = ["lost"]
    assert send() == 0
    assert message.status == "queued" and message.attempts == 1
    assert "SMS provider" in message.error or "短信" in message.error
    assert send(NOW + MINUTE) == 1
    assert message.status == "sent" and message.attempts == 2
    assert fake.calls["SendSms"] == 1 and len(fake.sent_with(message.id)) == 1
    # Its BizId never reached us: its delivery is found by its OutId.
    assert message.provider_id == ""
    fake.report(message.id, 3)
    assert sending.check_deliveries(NOW + 5 * MINUTE) == 1 and message.status == "delivered"


def test_after_the_last_attempt_the_message_fails(db, aliyun, fake, template):
    aliyun()
    message = queued(template)
    fake.answers[national(message)] = ["limit"] * sending.MAX_ATTEMPTS
    now = NOW
    for attempt in range(1, sending.MAX_ATTEMPTS + 1):
        assert send(now) == 0 and message.attempts == attempt
        assert message.send_after - now == min(MINUTE * 2 ** (attempt - 1), sending.RETRY_CAP) \
            or message.status == "failed"
        now = message.send_after
    assert message.status == "failed" and "isv.BUSINESS_LIMIT_CONTROL" in message.error
    assert str(sending.MAX_ATTEMPTS) in message.error and fake.sent == {}


def test_a_text_without_an_aliyun_template_code_fails_without_a_request(db, aliyun, fake):
    aliyun()
    plain = m.save_template(None, name="无代码", body="{称呼}您好", actor=make_user(["admin"]))
    message = queued(plain)
    assert send() == 0
    assert message.status == "failed" and "阿里云模板代码" in message.error
    assert fake.calls["SendSms"] == 0


def test_a_wrong_secret_is_refused_by_the_fake_and_the_message_kept(db, aliyun, fake, template,
                                                                  monkeypatch):
    aliyun()
    monkeypatch.setenv(sending.ENV_KEY_SECRET, "not-the-secret")
    message = queued(template)
    assert send() == 0
    assert message.status == "queued" and message.error.startswith("SignatureDoesNotMatch")
    assert [code for code, _auth in fake.rejected] == ["SignatureDoesNotMatch"]
    assert fake.sent == {}


def test_the_signature_covers_the_parameters(fake, monkeypatch):
    """The fake recomputes the documented signature: the SDK's request passes; the same request
    with one parameter changed is refused, and sent again unchanged its nonce is refused."""
    seen, real_send = [], requests.Session.send

    def recording(session, request, **options):
        seen.append(request.copy())
        return real_send(session, request, **options)

    monkeypatch.setattr(requests.Session, "send", recording)
    provider = sending.AliyunProvider(access_key_id=fake.access_key_id,
                                      access_key_secret=fake.access_key_secret,
                                      sign_name="会销通", endpoint=fake.endpoint,
                                      protocol="http")
    assert provider.send(sending.Outgoing(id=6, phone="+8613900009999", text="",
                                          template_code="SMS_1", params={"称呼": "张阿姨 & ~*"}))
    assert fake.rejected == [] and len(fake.sent) == 1
    [signed] = seen
    assert signed.headers["Authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAI")
    assert "OutId=6" in signed.url

    def replay(url):
        return real_send(requests.Session(), requests.Request(
            "POST", url, headers=dict(signed.headers), data=signed.body).prepare(), timeout=5)

    changed = replay(signed.url.replace("OutId=6", "OutId=7"))
    assert changed.status_code == 400 and changed.json()["Code"] == "SignatureDoesNotMatch"
    again = replay(signed.url)
    assert again.status_code == 400 and again.json()["Code"] == "SignatureNonceUsed"
    assert len(fake.sent) == 1


def test_without_the_access_key_the_queue_is_kept_with_a_clear_message(db, aliyun, fake,
                                                                      template, monkeypatch):
    aliyun()
    monkeypatch.delenv(sending.ENV_KEY_ID)
    message = queued(template)
    with pytest.raises(sending.NotConfigured) as problem:
        send()
    assert sending.ENV_KEY_ID in str(problem.value) and "阿里云" in str(problem.value)
    assert sending.provider_problem() == str(problem.value)
    assert (message.status, message.attempts) == ("queued", 0) and fake.calls == {}


def test_the_command_says_why_nothing_was_sent(committed_db, app, aliyun, fake, monkeypatch):
    aliyun()
    template = m.save_template(None, name="关怀", provider_code="SMS_1", body="{称呼}您好",
                               actor=make_user(["admin"]))
    message = queued(template)
    message.send_after = utcnow() - MINUTE
    committed_db.session.commit()
    message_id = message.id
    monkeypatch.delenv(sending.ENV_KEY_SECRET)
    problems = []
    assert send_messages(app, problems=problems) == 0
    assert len(problems) == 1 and sending.ENV_KEY_SECRET in problems[0]
    result = app.test_cli_runner().invoke(args=["jobs", "send-messages"])
    assert result.exit_code == 1 and "阿里云" in result.output
    assert sending.ENV_KEY_ID in result.output
    committed_db.session.expire_all()
    assert committed_db.session.scalar(select(m.Message.status)
                                       .where(m.Message.id == message_id)) == "queued"


def test_delivery_is_read_back(db, aliyun, fake, template):
    aliyun()
    delivered, failed, waiting = (queued(template, name=name, token=name)
                                  for name in ("甲", "乙", "丙"))
    assert send() == 3
    fake.report(delivered.id, 3)
    fake.report(failed.id, 2, "MOBILE_NOT_ON_SERVICE")
    assert sending.check_deliveries(NOW) == 0  # not within the first minute
    assert sending.check_deliveries(NOW + 2 * MINUTE) == 2
    assert (delivered.status, failed.status, waiting.status) == ("delivered", "failed", "sent")
    assert failed.error == "MOBILE_NOT_ON_SERVICE" and waiting.checked_at == NOW + 2 * MINUTE
    asked = fake.calls["QuerySendDetails"]
    assert sending.check_deliveries(NOW + 3 * MINUTE) == 0
    assert fake.calls["QuerySendDetails"] == asked  # asked at most every few minutes
    fake.report(waiting.id, 3)
    assert sending.check_deliveries(NOW + 8 * MINUTE) == 1 and waiting.status == "delivered"


def test_many_messages_go_four_at_a_time_each_once(db, aliyun, fake, template):
    aliyun()
    rows = [queued(template, name=f"顾客{n}", token=f"t{n}") for n in range(30)]
    for row in rows[::7]:
        fake.answers[national(row)] = ["limit"]
    assert send(workers=4) == 30 - len(rows[::7])
    assert send(NOW + MINUTE, workers=4) == len(rows[::7])
    assert sorted(record["OutId"] for record in fake.sent.values()) == \
        sorted(str(row.id) for row in rows)
    assert {row.status for row in rows} == {"sent"}
    assert {row.provider_id for row in rows} == set(fake.sent)


def test_the_log_provider_is_untouched_by_delivery_checks(db, template):
    message = queued(template)
    assert send(provider=sending.LogProvider()) == 1
    assert sending.check_deliveries(NOW + timedelta(hours=1), provider=sending.LogProvider()) == 0
    assert m.sent_to_check(NOW + timedelta(hours=1), every=MINUTE, within=timedelta(days=1)) \
        == [] and message.status == "sent"
    assert json.loads(json.dumps(message.params)) == message.params
