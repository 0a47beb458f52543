"""Security of every response and of signing in: headers and a CSP without inline scripts on
every page, a new session at sign-in, sign-in throttled per address, the upload limit, and no
redirect to another site whatever `next` a request names."""
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from blueprints.access import safe_next
from models import accounts
from models.audit import AuditEntry
from models.base import utcnow
from tests.conftest import page_text
from tests.factories import PASSWORD, make_user
from tests.world import build_world, fill

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)


def assert_secure_headers(response, where):
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";"))
    assert directives.get("script-src") == "'self'", where
    assert "unsafe-inline" not in directives.get("style-src", ""), where
    assert directives.get("frame-ancestors") in ("'self'", "'none'"), where
    assert directives.get("object-src") == "'none'", where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "same-origin", where


def test_every_page_has_the_headers_and_no_inline_script(app, client, db):
    world = build_world()
    everyone = make_user(["admin", "manager", "dept_head", "marketer", "event_staff",
                          "warehouse", "finance"], department=world.users["head1"].department)
    for path in ("/auth/login", "/static/css/app.css", "/no/such/page"):
        with client.get(path) as response:
            assert_secure_headers(response, path)
    client.post("/auth/login", data={"username": everyone.username, "password": PASSWORD})
    pages = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("auth.logout", "static"):
            continue
        response = client.get(fill(rule, world.ids))
        assert_secure_headers(response, rule.endpoint)
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert not INLINE_SCRIPT.search(html), rule.endpoint
            assert not HANDLER_ATTRIBUTE.search(html), rule.endpoint
            assert not STYLE_ELEMENT.search(html), rule.endpoint
            pages += 1
        response.close()
    assert pages > 80


def test_htmx_is_told_not_to_inject_styles_or_eval(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html


def test_sign_in_starts_a_new_session(app, client, db):
    user = make_user(username="qian")
    client.get("/auth/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.post("/auth/login", data={"username": "qian", "password": PASSWORD})
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert after != before
    with client.session_transaction() as session:
        assert "planted" not in session and session["_user_id"].startswith(f"{user.id}")
    # Whoever kept the cookie from before the sign-in is still signed out.
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], before)
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def attempt(client, username, password, address):
    return client.post("/auth/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_is_throttled_per_address(client, db):
    make_user(username="wang")
    for n in range(20):  # the default: 20 failures within 15 minutes, any names
        assert attempt(client, f"nobody{n}", "wrong", "10.1.1.1").status_code == 401
    refused = attempt(client, "wang", PASSWORD, "10.1.1.1")  # even the right password
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "900"
    assert "登录失败次数过多" in page_text(refused)
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.throttled"))
    assert attempt(client, "wang", PASSWORD, "10.2.2.2").status_code == 302  # other address


def test_the_address_may_try_again_after_the_window(db):
    user = make_user(username="li")
    start = utcnow()
    for n in range(20):
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(f"x{n}", "wrong", ip="10.3.3.3", now=start)
    with pytest.raises(accounts.SignInThrottled):
        accounts.sign_in("li", PASSWORD, ip="10.3.3.3", now=start + timedelta(minutes=14))
    assert accounts.sign_in("li", PASSWORD, ip="10.3.3.3",
                            now=start + timedelta(minutes=16)) == user


def failed_from(client, forwarded_for):
    client.post("/auth/login", data={"username": "nobody", "password": "x"},
                headers={"X-Forwarded-For": forwarded_for},
                environ_base={"REMOTE_ADDR": "127.0.0.1"})
    return select(AuditEntry.ip).order_by(AuditEntry.id.desc()).limit(1)


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy(database_url, tmp_path,
                                                                   client, db):
    from tests.conftest import Client, make_test_app
    assert db.session.scalar(failed_from(client, "203.0.113.9")) == "127.0.0.1"
    proxied = make_test_app(database_url, tmp_path, TRUSTED_PROXIES=1)
    proxied.test_client_class = Client
    assert db.session.scalar(failed_from(proxied.test_client(), "203.0.113.9")) == \
        "203.0.113.9"


def test_an_upload_over_the_limit_gets_a_clear_message(app, client, login, monkeypatch):
    login("marketer")
    # Small sizes: the test client keeps the body in memory (a large one spools to a file
    # that the refused request never closes).
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    big = io.BytesIO(b"x" * (64 * 1024 + 1))
    response = client.post("/customers/import", data={"file": (big, "名单.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "上传的文件太大" in page_text(response) and "0.0625 MB" in page_text(response)


#: The request fields a route may read as where to go next.
NEXT_FIELDS = ("next", "back")
#: Where a browser must never be sent: other sites in every spelling browsers accept (tabs and
#: newlines dropped, backslash read as slash, any number of leading slashes, scheme-relative).
OFF_SITE = ["http://evil.example/", "https://evil.example", "//evil.example/x",
            "///evil.example", "\\\\evil.example", "/\\evil.example", "\\/evil.example",
            "/\t/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
            "\x01//evil.example", "/\x7f/evil.example", "javascript:alert(1)",
            "http:evil.example", "https:/evil.example", "HTTPS://evil.example",
            "//evil.example@localhost/", "/customers\\..\\\\evil.example"]
#: A local target every route that honours `next` (or `back`) follows.
PROBE = "/customers/?probe=1"
#: The routes known to read a next page; the walk must find them (and any new one).
KNOWN_NEXT_READERS = {("auth.login", "POST"), ("tasks.reassign", "POST"), ("tasks.done", "POST"),
                      ("tasks.skip", "POST"), ("customers.claim", "POST"),
                      ("customers.bulk", "POST"), ("events.bulk_invite", "POST")}
#: Sent to every route too: enough for the forms that follow `next` only once they succeed (a
#: task done or skipped) or refuse something past their form check (a bulk action).
FORM_HINTS = {"kind": "call", "note": "已接通，情况良好", "reason": "不在家", "action": "transfer"}
#: Signing out and changing one's password end the walking client's session.
NOT_WALKED = {"static", "auth.logout", "auth.password", "auth.login"}


def goes_off_site(location):
    """True if a browser sent to `location` could leave this site: anything but a path on it,
    read the way browsers read it (C0 and spaces trimmed, tab/newline dropped, \\ as /)."""
    cleaned = re.sub(r"[\t\n\r]", "", location.strip("".join(map(chr, range(0x21)))))
    cleaned = cleaned.replace("\\", "/")
    return not cleaned.startswith("/") or cleaned.startswith("//") or \
        bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", cleaned))


def next_readers_in_the_sources():
    """("file:line", source line) of every place a blueprint reads a next page from the
    request."""
    root = Path(__file__).resolve().parents[2] / "blueprints"
    pattern = re.compile(r"request\.(?:args|form|values)(?:\.get)?[(\[]\s*[\"'](?:%s)[\"']|"
                         r"form\.(?:%s)\.data" % ("|".join(NEXT_FIELDS), "|".join(NEXT_FIELDS)))
    found = []
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append((f"{path.relative_to(root.parent)}:{number}", line.strip()))
    return found


def test_every_read_of_a_next_page_goes_through_safe_next():
    readers = next_readers_in_the_sources()
    assert len(readers) >= 6, readers
    unchecked = [(where, line) for where, line in readers if "safe_next(" not in line]
    assert unchecked == []


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_refuses_other_sites(target):
    assert safe_next(target, "/fallback") == "/fallback"


@pytest.mark.parametrize("target", ["/", "/tasks/?assignee=3&kind=care", "/customers/12",
                                    "/customers/?q=%E7%8E%8B", "/customers/?q=王"])
def test_safe_next_keeps_pages_of_this_site(target):
    assert safe_next(target, "/fallback") == target


def test_no_route_sends_the_browser_off_site(app, client, db):
    """Every route, GET and POST, with `next` and `back` in the query string and the form: a
    route that follows a local target (found by the walk, not listed by hand) is then given
    every other site, and no redirect may lead there."""
    world = build_world()
    everyone = make_user(sorted(accounts.ROLES), department=world.users["head1"].department)
    client.post("/auth/login", data={"username": everyone.username, "password": PASSWORD})
    assert client.get("/auth/password").status_code == 200

    def send(endpoint, method, path, target):
        fields = {name: target for name in NEXT_FIELDS}
        data = {**FORM_HINTS, **fields}
        if endpoint == "auth.login":
            response = app.test_client().post(path, data={"username": everyone.username,
                                                          "password": PASSWORD, **fields})
        else:
            # Each attempt is undone, so that every one meets the same rows (a task done by
            # one post is still open for the next).
            savepoint = db.session.begin_nested()
            db.session.connection()  # the SAVEPOINT is sent now, not at the first query
            try:
                response = client.open(path, method=method, query_string=fields,
                                       data=data if method == "POST" else None)
            finally:
                savepoint.rollback()
                db.session.expire_all()
        response.close()
        return response

    followers = set()
    routes = [(rule.endpoint, method, fill(rule, world.ids))
              for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_WALKED
              for method in sorted({"GET", "POST"} & rule.methods)]
    routes.append(("auth.login", "POST", "/auth/login"))
    for endpoint, method, path in routes:
        response = send(endpoint, method, path, PROBE)
        if response.location == PROBE:
            followers.add((endpoint, method))
        for header in ("Location", "HX-Redirect", "HX-Location"):
            assert not goes_off_site(response.headers.get(header, "/")), (endpoint, header)
    assert KNOWN_NEXT_READERS <= followers, KNOWN_NEXT_READERS - followers
    for endpoint, method, path in routes:
        if (endpoint, method) not in followers:
            continue
        for target in OFF_SITE:
            response = send(endpoint, method, path, target)
            for header in ("Location", "HX-Redirect", "HX-Location"):
                value = response.headers.get(header, "/")
                assert not goes_off_site(value), (endpoint, target, header, value)
