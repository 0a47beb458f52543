"""One log line per request, with its request id and duration, on stdout.

The id comes from the proxy's ``X-Request-ID`` header when it sends a sane one (nginx:
``proxy_set_header X-Request-ID $request_id``), else it is made here; it is returned in the
response's ``X-Request-ID`` header and added to every log line written while the request runs, so
one grep finds the proxy's line, the app's line and any error logged in between. The path is
logged without its query string (searches carry names and phone numbers).
"""
import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request

logger = logging.getLogger("hxt.request")

HEADER = "X-Request-ID"
#: What we accept from outside: short, no spaces or control characters (no forged log lines).
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def request_id():
    """The current request's id, or "-" outside a request."""
    return g.get("request_id", "-") if has_request_context() else "-"


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` attribute for the format string."""

    def filter(self, record):
        record.request_id = request_id()
        return True


def configure_logging(level=logging.INFO):
    """Send the app's logs to stdout with the request id, unless logging is already set up.
    Called where a server process starts (deploy/gunicorn.conf.py), not by create_app(): tests,
    benches and CLI commands keep their own output."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)


def _start():
    incoming = request.headers.get(HEADER, "")
    g.request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish(response):
    started = g.get("request_started")
    duration_ms = (time.perf_counter() - started) * 1000 if started is not None else -1.0
    response.headers[HEADER] = g.get("request_id") or "-"
    logger.info("%s %s %s %.1fms", request.method, request.path,
                response.status_code, duration_ms,
                extra={"duration_ms": round(duration_ms, 1)})
    return response


def init_app(app):
    """Time and log every request. Runs first among the before-request hooks, so that a request
    refused early (CSRF, sign-in) is logged with its id too."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
