"""The SMS sender (issue #28 §3): run every minute by the scheduler and by `flask jobs
send-messages`. It takes the queued messages whose time has come and sends each through the
provider adapter the setting messages.provider names, then asks the provider what became of the
messages it accepted:

- "log" (the default, for development and the demo) writes what it would send and marks it sent;
- "aliyun" sends through Aliyun SMS (dysmsapi 2017-05-25 SendSms) with its official SDK, which
  signs each request (V3, ACS3-HMAC-SHA256): the signature name (setting), the template's
  approved code (MessageTemplate.provider_code), the filled fields as the template's parameters
  (JSON) and the message id as OutId. Endpoint and protocol are settings (the tests point them at
  a local fake provider); the AccessKey comes only from the environment
  (ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET). Without it the run raises
  NotConfigured with a message for the administrator and the queue is kept.

Up to SEND_WORKERS requests are in flight at once: a thread pool runs the HTTP calls only; every
read and write of the database stays in the calling thread and its one transaction.

A temporary refusal (throttling: isv.BUSINESS_LIMIT_CONTROL, Throttling.*; HTTP 5xx; no answer)
keeps the message queued and moves its send_after back exponentially (RETRY_FIRST doubling up to
RETRY_CAP); after MAX_ATTEMPTS it is failed. A permanent refusal (isv.MOBILE_NUMBER_ILLEGAL,
isv.SMS_TEMPLATE_ILLEGAL, …) fails it at once with the provider's words.

A message is sent at most once: it is locked while sent and marked in the same transaction, its
id is the OutId the provider keeps with it, and before a message that met an error is sent again
the provider is asked (QuerySendDetails) whether a message with that OutId already went out — an
answer lost on the way back is not sent twice.

Delivery: the messages sent in the last CHECK_WITHIN are read back with QuerySendDetails at most
every CHECK_EVERY — SendStatus 3 delivered, 2 failed (with the carrier's error code), 1 waiting.
"""
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from zoneinfo import ZoneInfo

from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_dysmsapi20170525.client import Client as DysmsClient
from alibabacloud_tea_openapi import models as openapi
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from flask_babel import gettext as _

from extensions import db
from models import messages
from models.base import utcnow
from models.clock import local_moment
from models.settings import get_setting

logger = logging.getLogger(__name__)

#: Requests to the provider in flight at once.
SEND_WORKERS = 4
#: The first wait after a temporary refusal; it doubles with each attempt, up to RETRY_CAP.
RETRY_FIRST = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
#: Attempts before a message that keeps meeting temporary refusals is failed.
MAX_ATTEMPTS = 8
#: Delivery is asked about at most this often per message, for this long after sending.
CHECK_EVERY = timedelta(minutes=5)
CHECK_WITHIN = timedelta(days=3)

ENV_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_KEY_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
#: Aliyun's dates (QuerySendDetails SendDate) are Beijing time, whatever the company's zone.
ALIYUN_ZONE = ZoneInfo("Asia/Shanghai")
#: The names the fields go by in an Aliyun template (${salutation}): Aliyun's variable names
#: are Latin letters, digits and underscores.
ALIYUN_PARAMS = {"姓名": "name", "称呼": "salutation", "会议名称": "event", "时间": "time",
                 "地点": "place", "顾问": "adviser", "顾问电话": "adviser_phone",
                 "金额": "amount", "到期日": "due_date", "商品": "product"}
#: Aliyun's answers that mean "not now" rather than "never" (the message is sent again later).
ALIYUN_TEMPORARY = ("isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL",
                    "isv.MONTH_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY",
                    "isv.OUT_OF_SERVICE", "isv.ACCOUNT_ABNORMAL", "ServiceUnavailable",
                    "InternalError", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                    "IncompleteSignature", "Forbidden")


class ProviderError(Exception):
    """The provider refused a message. `retry` when it may succeed later (5xx, throttling);
    `network` when no answer came (the message may or may not have gone out)."""

    def __init__(self, message, *, retry=False, network=False):
        super().__init__(message)
        self.retry = retry or network
        self.network = network


class NotConfigured(Exception):
    """The chosen provider cannot send (unknown, or its credentials are missing): nothing is
    sent and the queue is kept. The message is the administrator's."""


@dataclass(frozen=True)
class Outgoing:
    """What a provider needs of one message, read in the calling thread (the workers that send
    it touch no database row)."""
    id: int
    phone: str
    text: str
    template_code: str = ""
    params: dict = field(default_factory=dict)
    #: Attempts before this one: when some, the provider is asked whether it already went out.
    attempts: int = 0
    #: The moment it was sent (the day to look its delivery up on).
    sent_at: object = None
    provider_id: str = ""


def outgoing_of(message):
    template = message.template
    return Outgoing(id=message.id, phone=message.phone, text=message.text,
                    template_code=template.provider_code if template is not None else "",
                    params=dict(message.params or {}), attempts=message.attempts,
                    sent_at=message.sent_at,
                    provider_id=message.provider_id)


class LogProvider:
    """Writes what it would send; every message succeeds."""

    def send(self, message):
        logger.info("SMS %s to %s: %s", message.id, message.phone, message.text)
        return f"log-{message.id}"


class AliyunProvider:
    """Aliyun SMS through the official SDK (alibabacloud-dysmsapi20170525): SendSms to send,
    QuerySendDetails to find a message by its OutId and to read its delivery."""

    def __init__(self, *, access_key_id, access_key_secret, sign_name,
                 endpoint="dysmsapi.aliyuncs.com", protocol="https", workers=SEND_WORKERS):
        self.sign_name = sign_name
        self.client = DysmsClient(openapi.Config(
            access_key_id=access_key_id, access_key_secret=access_key_secret,
            endpoint=endpoint, protocol=protocol, connect_timeout=5000, read_timeout=10000,
            max_idle_conns=max(workers, 4)))

    @classmethod
    def from_settings(cls, environ=None):
        """The provider the settings and the environment describe; NotConfigured (in the
        administrator's words) when the AccessKey or the signature name is missing."""
        environ = os.environ if environ is None else environ
        key_id = environ.get(ENV_KEY_ID, "").strip()
        secret = environ.get(ENV_KEY_SECRET, "").strip()
        if not key_id or not secret:
            raise NotConfigured(_(
                "Aliyun SMS cannot send: the server's environment has no AccessKey (set "
                "%(id)s and %(secret)s for the app and the scheduler, then restart them). "
                "The queued messages are kept and go out once it is set.",
                id=ENV_KEY_ID, secret=ENV_KEY_SECRET))
        sign_name = get_setting("messages.aliyun_sign_name")
        if not sign_name:
            raise NotConfigured(_(
                "Aliyun SMS cannot send: enter the signature name (签名) in the settings. The "
                "queued messages are kept and go out once it is set."))
        return cls(access_key_id=key_id, access_key_secret=secret, sign_name=sign_name,
                   endpoint=get_setting("messages.aliyun_endpoint"),
                   protocol=get_setting("messages.aliyun_protocol"))

    def prepare(self, message):
        """The message as this provider sends it (calling thread); a message Aliyun cannot
        take at all raises a permanent ProviderError."""
        outgoing = outgoing_of(message)
        if not outgoing.template_code:
            raise ProviderError(_(
                "Aliyun sends only its approved templates: give the template its Aliyun code "
                "(SMS_…), or send this text on WeChat."))
        return outgoing

    @staticmethod
    def number(phone):
        """+8613912345678 → 13912345678 (Aliyun's mainland form); other countries keep their
        code without the plus."""
        return phone[3:] if phone.startswith("+86") else phone.lstrip("+")

    def send(self, outgoing):
        """Send one message; returns Aliyun's BizId. Raises ProviderError."""
        params = {ALIYUN_PARAMS.get(name, name): value
                  for name, value in outgoing.params.items()}
        request = dysms.SendSmsRequest(
            phone_numbers=self.number(outgoing.phone), sign_name=self.sign_name,
            template_code=outgoing.template_code, out_id=str(outgoing.id),
            template_param=json.dumps(params, ensure_ascii=False) if params else None)
        body = self._call(self.client.send_sms, request)
        if body.code != "OK":
            raise _refusal(body.code, body.message)
        return body.biz_id or ""

    def _details(self, phone, moment, biz_id=None):
        request = dysms.QuerySendDetailsRequest(
            phone_number=self.number(phone), biz_id=biz_id or None,
            send_date=f"{local_moment(moment, ALIYUN_ZONE):%Y%m%d}", page_size=50,
            current_page=1)
        body = self._call(self.client.query_send_details, request)
        if body.code != "OK":
            raise _refusal(body.code, body.message)
        records = body.sms_send_detail_dtos.sms_send_detail_dto \
            if body.sms_send_detail_dtos else None
        return records or []

    def find_sent(self, outgoing, now):
        """The message already went out (a lost answer): "" (Aliyun's record has no BizId);
        None when Aliyun has no message with its OutId on the days it may have been sent."""
        # The last attempt was at most the longest wait ago (a few minutes more for the run).
        before = now - RETRY_CAP - timedelta(minutes=10)
        days = {local_moment(now, ALIYUN_ZONE).date(): now,
                local_moment(before, ALIYUN_ZONE).date(): before}
        for moment in days.values():
            if any(record.out_id == str(outgoing.id)
                   for record in self._details(outgoing.phone, moment)):
                return ""
        return None

    def delivery(self, outgoing):
        """What became of a sent message: ("delivered", ""), ("failed", carrier's code) or
        (None, "") while it is on its way."""
        for record in self._details(outgoing.phone, outgoing.sent_at, outgoing.provider_id):
            # By its OutId; a record without one only when asked for by the message's BizId.
            if record.out_id != str(outgoing.id) and (record.out_id or not outgoing.provider_id):
                continue
            if record.send_status == 3:
                return "delivered", ""
            if record.send_status == 2:
                return "failed", record.err_code or ""
        return None, ""

    @staticmethod
    def _call(method, request):
        try:
            return method(request).body
        except ThrottlingException as error:
            raise ProviderError(f"{error.code}: {error.message}", retry=True) from None
        except AlibabaCloudException as error:
            if (error.status_code or 0) >= 500:
                raise ProviderError(f"{error.code}: {error.message}", retry=True) from None
            raise _refusal(error.code, error.message) from None
        except Exception as error:  # the SDK wraps connection errors and timeouts
            inner = getattr(error, "inner_exception", None) or error
            detail = getattr(inner, "message", None) or str(inner)
            raise ProviderError(str(detail)[:200], network=True) from None


def _refusal(code, message):
    code = code or ""
    temporary = code.startswith("Throttling") or any(
        code == known or code.startswith(known + ".") for known in ALIYUN_TEMPORARY)
    return ProviderError(f"{code}: {message}" if message else code, retry=temporary)


PROVIDERS = {"log": lambda: LogProvider(), "aliyun": AliyunProvider.from_settings}


def provider_from_settings():
    name = get_setting("messages.provider")
    if name not in PROVIDERS:
        raise NotConfigured(_("SMS provider %(name)s is not available; the queue is kept.",
                              name=name))
    return PROVIDERS[name]()


def provider_problem():
    """Why the chosen provider cannot send now (the administrator's words), or None: for the
    pages that show the outbox and the settings."""
    try:
        provider_from_settings()
    except NotConfigured as problem:
        return str(problem)
    return None


# ---- sending ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    provider_id: str | None = None
    error: ProviderError | None = None


def _attempt(provider, now, outgoing):
    """One message to the provider (a worker thread: HTTP only, no database)."""
    try:
        if outgoing.attempts and hasattr(provider, "find_sent"):
            found = provider.find_sent(outgoing, now)
            if found is not None:
                return Outcome(provider_id=found)
        return Outcome(provider_id=provider.send(outgoing))
    except ProviderError as error:
        return Outcome(error=error)
    except Exception as error:  # a fault of ours must not lose the batch's other outcomes
        logger.exception("Sending SMS %s failed", outgoing.id)
        return Outcome(error=ProviderError(str(error)[:200], network=True))


def backoff(attempts):
    """The wait after the `attempts`-th attempt met a temporary refusal."""
    return min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_CAP)


def _record(message, outcome, now):
    """Write one outcome (the calling thread)."""
    message.attempts += 1
    if outcome.error is None:
        messages.mark_sent(message, provider_id=outcome.provider_id, now=now, flush=False)
        return True
    error = outcome.error
    text = str(error)
    if error.network:
        text = _("No answer from the SMS provider (%(detail)s).", detail=text)
    if error.retry and message.attempts < MAX_ATTEMPTS:
        messages.retry_later(message, error=text, send_after=now + backoff(message.attempts),
                             flush=False)
        logger.warning("SMS %s: attempt %s refused for now: %s", message.id,
                       message.attempts, text)
        return False
    if error.retry:
        text = _("Not sent after %(n)s attempts: %(error)s", n=message.attempts, error=text)
    messages.mark_failed(message, error=text, now=now, flush=False)
    logger.warning("SMS %s failed: %s", message.id, text)
    return False


def send_due(now=None, *, provider=None, limit=200, workers=None):
    """Send the queued messages whose time has come, up to `workers` at once; returns how many
    were sent. A temporary refusal keeps a message queued for later (attempts counted)."""
    now, workers = now or utcnow(), workers or SEND_WORKERS
    provider = provider or provider_from_settings()
    due = messages.due_messages(now, limit)
    if not due:
        return 0
    prepare = getattr(provider, "prepare", outgoing_of)
    ready, sent = [], 0
    for message in due:
        try:
            ready.append((message, prepare(message)))
        except ProviderError as error:
            message.attempts += 1
            messages.mark_failed(message, error=str(error), now=now)
    # The answers are written once all are in: the calling thread, writing while the workers
    # hold the interpreter, would wait for it at every statement.
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ready)))) as pool:
        outcomes = list(pool.map(partial(_attempt, provider, now),
                                 [outgoing for _m, outgoing in ready]))
    for (message, _outgoing), outcome in zip(ready, outcomes):
        sent += _record(message, outcome, now)
    db.session.flush()  # the batch's answers at once
    return sent


def _delivery(provider, outgoing):
    """One sent message's delivery, asked of the provider (a worker thread)."""
    try:
        return provider.delivery(outgoing)
    except ProviderError as error:
        logger.warning("Delivery of SMS %s not known: %s", outgoing.id, error)
        return None, ""
    except Exception:  # as in _attempt: the batch's other answers are kept
        logger.exception("Asking the delivery of SMS %s failed", outgoing.id)
        return None, ""


def check_deliveries(now=None, *, provider=None, limit=200, workers=None):
    """Read back what became of the messages the provider accepted (QuerySendDetails); returns
    how many are now delivered or failed. A provider that reports nothing (log) is skipped."""
    now, workers = now or utcnow(), workers or SEND_WORKERS
    provider = provider or provider_from_settings()
    if not hasattr(provider, "delivery"):
        return 0
    rows = messages.sent_to_check(now, every=CHECK_EVERY, within=CHECK_WITHIN, limit=limit)
    if not rows:
        return 0
    known = 0
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(rows)))) as pool:
        answers = list(pool.map(partial(_delivery, provider), [outgoing_of(row) for row in rows]))
    for message, (status, error) in zip(rows, answers):
        messages.mark_delivery(message, status=status, error=error, now=now, flush=False)
        known += status is not None
    db.session.flush()
    return known
