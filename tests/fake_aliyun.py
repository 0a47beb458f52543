"""A local stand-in for Aliyun SMS (dysmsapi 2017-05-25), for the tests and bench/messages.py:
a small HTTP server on 127.0.0.1 that checks each request's signature as Aliyun documents it for
the V3 signature the SDK uses (ACS3-HMAC-SHA256: "V3版本请求体&签名机制"), recomputing it from the
request with the test's AccessKey secret, and answers SendSms and QuerySendDetails with the
documented bodies — success, throttling, errors.

    fake = FakeAliyun().start()          # fake.endpoint: "127.0.0.1:PORT"
    fake.answers["13900001111"] = ["limit", "ok"]   # per number, in turn; then "ok"
    fake.report(out_id, 3)               # what QuerySendDetails says of a message
    fake.stop()

The signature, step by step (what the server recomputes):

    CanonicalRequest = METHOD \\n CanonicalURI \\n CanonicalQueryString \\n CanonicalHeaders \\n
                       SignedHeaders \\n HashedRequestPayload
    StringToSign     = "ACS3-HMAC-SHA256" \\n hex(sha256(CanonicalRequest))
    Signature        = hex(hmac_sha256(AccessKeySecret, StringToSign))
    Authorization    = ACS3-HMAC-SHA256 Credential=AccessKeyId,SignedHeaders=…,Signature=…

The query's names and values are percent-encoded by RFC 3986 (A–Z a–z 0–9 - _ . ~ kept, a space
is %20) and sorted by name; the signed headers are lower-case, sorted, each `name:value` (value
trimmed); host and every x-acs-* header must be signed; x-acs-content-sha256 must be the hex
SHA-256 of the body; x-acs-date within 15 minutes; a nonce used once.
"""
import hashlib
import hmac
import json
import sys
import threading
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "ACS3-HMAC-SHA256"
REQUIRED_HEADERS = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date",
                    "x-acs-signature-nonce", "x-acs-version"}
BEIJING = timezone(timedelta(hours=8))

#: The documented answers, by the name a test gives them: (HTTP status, body).
ANSWERS = {
    "limit": (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1"}),
    "throttling": (400, {"Code": "Throttling.User",
                         "Message": "Request was denied due to user flow control."}),
    "unavailable": (503, {"Code": "ServiceUnavailable",
                          "Message": "The request has failed due to a temporary failure of "
                                     "the server."}),
    "mobile": (200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}),
    "template": (200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "该账号下找不到对应模板"}),
}


def rfc3986(value):
    return quote(value, safe="~", encoding="utf-8")


def canonical_query(query):
    """The canonical query string of a request's decoded (name, value) pairs."""
    return "&".join(f"{rfc3986(name)}={rfc3986(value)}" for name, value in sorted(query))


def signature(secret, method, path, query, headers, signed, payload_hash):
    """The documented V3 signature of a request. `headers`: {lower-case name: value}."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical = "\n".join([method, path or "/", canonical_query(query), canonical_headers,
                           ";".join(signed), payload_hash])
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    return hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeAliyun:
    """The fake provider. Everything it was sent is kept in `sent` ({BizId: record}); the
    requests it refused for their signature in `rejected`."""

    def __init__(self, access_key_id="LTAItestkey", access_key_secret="test-secret-0123456789",
                 now=None):
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        #: The moment a message is recorded as sent (a test's own clock); the request's
        #: x-acs-date is always checked against the real one.
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.answers = defaultdict(list)
        self.sent = {}
        self.reports = {}
        self.rejected = []
        self.calls = defaultdict(int)
        self._nonces = set()
        self._lock = threading.Lock()
        self._count = 0
        self.server = None

    # ---- running -------------------------------------------------------------------------
    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer's headers and body leave in one write (flushed after each request):
            # written apart, Nagle and the client's delayed ACK would cost 40 ms a request.
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def do_POST(self):
                fake.handle(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def report(self, out_id, status, err_code=None):
        """What QuerySendDetails says of the message sent with `out_id`: 1 waiting, 2 failed,
        3 delivered."""
        self.reports[str(out_id)] = (status, err_code or ("DELIVERED" if status == 3 else ""))

    def sent_with(self, out_id):
        return [record for record in self.sent.values() if record["OutId"] == str(out_id)]

    # ---- a request -----------------------------------------------------------------------
    def handle(self, request):
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        url = urlsplit(request.path)
        query = parse_qsl(url.query, keep_blank_values=True)
        request_id = str(uuid.uuid4()).upper()
        try:
            self.check_signature(request, url.path, query, body)
            params = dict(query)
            if request.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            action = request.headers.get("x-acs-action")
            if request.headers.get("x-acs-version") != "2017-05-25":
                raise Refused(400, "InvalidVersion", "Specified parameter Version is not valid.")
            with self._lock:
                self.calls[action] += 1
            if action == "SendSms":
                status, answer = self.send_sms(params)
            elif action == "QuerySendDetails":
                status, answer = self.query_send_details(params)
            else:
                raise Refused(404, "InvalidAction.NotFound",
                              "Specified api is not found, please check your url and method.")
        except Refused as refused:
            status, answer = refused.status, {"Code": refused.code, "Message": refused.message}
        if answer is None:  # the answer is lost on its way back
            request.close_connection = True
            request.connection.shutdown(2)
            return
        data = json.dumps({"RequestId": request_id, **answer}, ensure_ascii=False).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json;charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def check_signature(self, request, path, query, body):
        authorization = request.headers.get("Authorization", "")
        algorithm, _space, rest = authorization.partition(" ")
        fields = dict(part.split("=", 1) for part in rest.split(",") if "=" in part)
        headers = {name.lower(): value for name, value in request.headers.items()}

        def reject(status, code, message):
            self.rejected.append((code, authorization))
            raise Refused(status, code, message)

        if algorithm != ALGORITHM or not {"Credential", "SignedHeaders", "Signature"} <= \
                set(fields):
            reject(400, "IncompleteSignature", "The request signature does not conform to "
                                               "Aliyun standards.")
        if fields["Credential"] != self.access_key_id:
            reject(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = fields["SignedHeaders"].split(";")
        unsigned = (REQUIRED_HEADERS | {name for name in headers if name.startswith("x-acs-")}) \
            - set(signed)
        if unsigned or signed != sorted(signed):
            reject(400, "IncompleteSignature", f"Headers not signed: {sorted(unsigned)}")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            reject(400, "SignatureDoesNotMatch", "The payload hash does not match the body.")
        try:
            when = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ") \
                .replace(tzinfo=timezone.utc)
        except ValueError:
            when = None
        if when is None or abs(datetime.now(timezone.utc) - when) > timedelta(minutes=15):
            reject(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is "
                                                    "expired.")
        expected = signature(self.access_key_secret, request.command, path, query, headers,
                             signed, headers["x-acs-content-sha256"])
        if not hmac.compare_digest(expected, fields["Signature"]):
            reject(400, "SignatureDoesNotMatch",
                   "Specified signature does not match our calculation.")
        with self._lock:
            nonce = headers.get("x-acs-signature-nonce")
            if nonce in self._nonces:
                reject(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(nonce)

    def send_sms(self, params):
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                raise Refused(400, "MissingParameter", f"{name} is mandatory for this action.")
        if "TemplateParam" in params:
            try:
                json.loads(params["TemplateParam"])
            except ValueError:
                return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        phone = params["PhoneNumbers"]
        with self._lock:
            planned = self.answers.get(phone)
            answer = planned.pop(0) if planned else "ok"
            if answer in ANSWERS:
                return ANSWERS[answer]
            self._count += 1
            biz_id = f"{900619746936498440 + self._count}^0"
            now = self.now().astimezone(BEIJING)
            self.sent[biz_id] = {"BizId": biz_id, "PhoneNumbers": phone,
                                 "SignName": params["SignName"],
                                 "TemplateCode": params["TemplateCode"],
                                 "TemplateParam": json.loads(params.get("TemplateParam") or "{}"),
                                 "OutId": params.get("OutId", ""),
                                 "SendDate": now.strftime("%Y-%m-%d %H:%M:%S")}
        if answer == "lost":
            return 200, None
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id}

    def query_send_details(self, params):
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not params.get(name):
                raise Refused(400, "MissingParameter", f"{name} is mandatory for this action.")
        day = params["SendDate"]
        day = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        with self._lock:
            found = [record for record in self.sent.values()
                     if record["PhoneNumbers"] == params["PhoneNumber"]
                     and record["SendDate"].startswith(day)
                     and params.get("BizId") in (None, "", record["BizId"])]
        details = []
        for record in found:
            status, err_code = self.reports.get(record["OutId"], (1, ""))
            details.append({"PhoneNum": record["PhoneNumbers"], "SendStatus": status,
                            "ErrCode": err_code, "TemplateCode": record["TemplateCode"],
                            "Content": f"【{record['SignName']}】"
                                       + json.dumps(record["TemplateParam"], ensure_ascii=False),
                            "SendDate": record["SendDate"],
                            "ReceiveDate": record["SendDate"] if status == 3 else "",
                            "OutId": record["OutId"]})
        return 200, {"Code": "OK", "Message": "OK", "TotalCount": len(details),
                     "SmsSendDetailDTOs": {"SmsSendDetailDTO": details}}


def main():
    """Serve the fake in its own process (bench/messages.py): prints `PORT` on one line, then
    answers until stdin closes."""
    fake = FakeAliyun(*sys.argv[1:3]).start()
    print(fake.server.server_address[1], flush=True)
    sys.stdin.read()
    fake.stop()


if __name__ == "__main__":
    main()
