"""Generated values in every field of every form and every query parameter of every GET route:
never a 5xx (issue 22), on SQLite and on PostgreSQL.

The routes come from app.url_map, their URL ids from the sample company of tests/world.py and
their roles from the MATRIX of test_permissions; a route with a word in its URL
(/inventory/documents/new/<kind>) is visited at the paths the pages link to as well. Nothing
is listed here, so a new route is covered as it is: the POST fields are the ones the app's
pages render (read as test_hostile_input reads them), and the query parameters of a GET route
are found twice over: in the GET forms, links and hx-get elements of every rendered page, and
in the source of the view (and of the project's functions and forms it calls) wherever it
reads `request.args`.

Each hypothesis example picks a player (one role, or a user holding every role), a "theme"
value (sNaN, a calendar-end date, a 30-digit id...) and a few generated values, then visits every
route that player may use with those values spread over all of its fields — so every field meets
the theme in every example. The database is rolled back to a savepoint after each example; only
status codes are asserted (test_hostile_input checks that a refusal writes nothing).
"""
import inspect
import logging
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import wtforms
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st
from werkzeug.exceptions import HTTPException

from models.base import new_token
from tests.blueprints.test_hostile_input import EXTRA_FIELDS, PLAYERS, SKIP, FormFields, is_token
from tests.blueprints.test_permissions import MATRIX
from tests.conftest import page_text
from tests.factories import make_user
from tests.world import build_world, fill, sign_in_as

ROOT = Path(__file__).resolve().parents[2]

#: Money and decimal fields: the specials decimal.Decimal parses, and numbers beyond any range.
DECIMALS = ["sNaN", "-sNaN", "sNaN12", "NaN", "-NaN", "Infinity", "-Infinity", "inf", "-0",
            "-0.00", "1e400", "-1e400", "1E+999999", "1e-400", "0.001", "1000000.01",
            "12345678901234567890.5"]
#: Dates at the ends of the calendar and beyond it.
DATES = ["0001-01-01", "0001-01-31", "9999-12-31", "9999-12-01", "10000-01-01", "0000-00-00",
         "1899-12-31", "3000-01-01", "2026-02-30", "9999-12-31T23:59"]
#: Integers: ids and counts outside a 32-bit column, negative, non-ASCII digits.
INTEGERS = ["0", "-1", "2147483647", "2147483648", "-2147483649", "9" * 30, "-" + "9" * 30,
            "9" * 400, "１２", "٣"]
#: Strings: control characters, NUL, lone surrogates (sent as the bytes they would encode
#: to), long ones.
STRINGS = ["", " ", "\x00", "a\x00b", "\x01\x1b[31m\x7f", "\ud800", "x\udfffy", "\r\n\t",
           "x" * 5000, "🙂" * 300]
SPECIALS = DECIMALS + DATES + INTEGERS + STRINGS

#: Who plays: one role (the routes MATRIX gives it), or a user with every role (every route).
EVERYONE = "everyone"
ROLES = (EVERYONE, *sorted(PLAYERS))
#: GET routes that are not pages to fuzz.
GET_SKIP = {"static", "auth.logout"}


def generated_values():
    """One value for a field: a special, or a generated number, date or text."""
    characters = st.characters(exclude_categories=())  # surrogates and controls included
    return st.one_of(
        st.sampled_from(SPECIALS),
        st.integers().map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.dates().map(str),
        st.text(characters, max_size=30),
        st.builds(lambda c, n: c * n, characters, st.integers(500, 20_000)))


# --- What each route reads -------------------------------------------------------------------

class Page(FormFields):
    """The POST forms of a page (FormFields), plus the query parameters of its GET forms, links
    and hx-get elements ({path: names}) and every local path it points to."""

    def __init__(self, page_path):
        super().__init__(page_path)
        self.queries, self.paths, self.get_form = {}, set(), None

    def _target(self, url):
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            return set()
        path = parts.path or self.page_path
        self.paths.add(path)
        names = self.queries.setdefault(path, set())
        names.update(key for key, _value in parse_qsl(parts.query, keep_blank_values=True))
        return names

    def handle_starttag(self, tag, attrs):
        super().handle_starttag(tag, attrs)
        attrs = {key: value or "" for key, value in attrs}
        for key in ("href", "action", "hx-get", "hx-post"):
            if key in attrs:
                self._target(attrs[key])
        if tag == "form":
            is_get = (attrs.get("method") or "get").lower() == "get" and "hx-post" not in attrs
            self.get_form = self._target(attrs.get("hx-get") or attrs.get("action") or
                                         self.page_path) if is_get else None
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            if self.get_form is not None:
                self.get_form.add(attrs["name"])
            if attrs.get("hx-get"):
                self._target(attrs["hx-get"]).add(attrs["name"])

    def handle_endtag(self, tag):
        super().handle_endtag(tag)
        if tag == "form":
            self.get_form = None


#: What reading a query parameter looks like in our source.
_READS = re.compile(r"""args\.get\(\s*["'](\w+)|args\[\s*["'](\w+)|["'](\w+)["']\s+(?:not\s+)?in\s+
                        (?:request\.)?args|_\w*arg\(\s*["'](\w+)""", re.X)
_LITERAL = re.compile(r"""["']([a-z][a-z0-9_]{0,30})["']""")
#: A URL argument that is not an id (its values are found in the pages' links).
_WORD_ARGUMENT = re.compile(r"<(?!int:)[^>]+>")
#: Paths tried per route with a word in its URL (documents/new/receipt, /transfer, ...).
PATHS_PER_ROUTE = 4


def _ours(obj):
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    path = Path(getattr(module, "__file__", "") or "/").resolve()
    return ROOT in path.parents and ".venv" not in path.parts and "tests" not in path.parts


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _form_fields(cls):
    return {name for klass in cls.__mro__ for name, value in vars(klass).items()
            if isinstance(value, wtforms.fields.core.UnboundField)}


def source_params(view, depth=3, seen=None):
    """Query parameter names a view reads: from `request.args` in its source and in the
    source of the project's functions it calls (to `depth`), and the fields of the project's
    forms it uses (a filter form is built from request.args)."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(view)
    if function in seen or not inspect.isfunction(function) or not _ours(function):
        return set()
    seen.add(function)
    source = inspect.getsource(function)
    names = set()
    if "args" in source:
        names |= {name for groups in _READS.findall(source) for name in groups if name}
        if "request.args" in source:  # names read in a loop: every short literal nearby
            names |= set(_LITERAL.findall(source))
    if depth:
        for name in _code_names(function.__code__):
            target = function.__globals__.get(name)
            if inspect.isclass(target) and issubclass(target, wtforms.Form) and _ours(target):
                names |= _form_fields(target)
            elif inspect.isfunction(target):
                names |= source_params(target, depth - 1, seen)
    return names


def crawl(app, client, world, everyone):
    """[(method, endpoint, path, roles, names)] of every route: the POST fields and GET query
    parameters its pages and its source show, at its filled-in path and (for a word in the
    URL) at the paths the pages link to."""
    sign_in_as(client, everyone)
    adapter = app.url_map.bind("localhost")

    def endpoint_of(path, method):
        try:
            return adapter.match(path, method=method)[0]
        except HTTPException:
            return None
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint not in GET_SKIP]
    worded = {rule.endpoint for rule in rules if _WORD_ARGUMENT.search(rule.rule)}
    paths = {rule.endpoint: {fill(rule, world.ids)} for rule in rules}
    fields = {"GET": {}, "POST": {}}
    queue, seen = [fill(rule, world.ids) for rule in rules if "GET" in rule.methods], set()
    while queue:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        with client.get(path) as response:
            if response.mimetype != "text/html":
                continue
            page = Page(path)
            page.feed(response.get_data(as_text=True))
        for method, found in (("POST", page.forms), ("GET", page.queries)):
            for target, names in found.items():
                if (endpoint := endpoint_of(target, method)) is not None:
                    fields[method].setdefault(endpoint, set()).update(names)
        for target in page.paths:
            for method in ("GET", "POST"):
                endpoint = endpoint_of(target, method)
                if endpoint in worded and target not in paths[endpoint] and \
                        len(paths[endpoint]) < PATHS_PER_ROUTE:
                    paths[endpoint].add(target)
                    queue.append(target)
    client.post("/auth/logout")
    routes = []
    for rule in rules:
        roles = {EVERYONE, *(MATRIX.get(rule.endpoint, set(PLAYERS)) & set(PLAYERS))}
        if "GET" in rule.methods:
            names = fields["GET"].get(rule.endpoint, set()) | source_params(
                app.view_functions[rule.endpoint])
            routes += [("GET", rule.endpoint, path, roles, sorted(names - {"csrf_token"}))
                       for path in sorted(paths[rule.endpoint])]
        if "POST" in rule.methods and rule.endpoint not in SKIP:
            names = fields["POST"].get(rule.endpoint, set()) | set(EXTRA_FIELDS)
            routes += [("POST", rule.endpoint, path, roles, sorted(names - {"csrf_token"}))
                       for path in sorted(paths[rule.endpoint])]
    return routes


# --- Sending -----------------------------------------------------------------------------------

def encoded(pairs):
    """A query string or form body; a lone surrogate is sent as the bytes it would encode to
    (not valid UTF-8: the server has to cope)."""
    return urlencode([(key, value.encode("utf-8", "surrogatepass")) for key, value in pairs])


class Fuzzer:
    """Visits routes as a player, one savepoint per example, collecting every 5xx."""

    def __init__(self, app, client, db, world, everyone, caplog):
        self.app, self.client, self.db, self.caplog = app, client, db, caplog
        self.usernames = {role: world.users[name].username for role, name in PLAYERS.items()}
        self.usernames[EVERYONE] = everyone.username
        self.ids = world.ids
        db.session.commit()  # the world stays (in the test's transaction) under the savepoints
        self.connection = db.session.get_bind()
        self.wrong, self.log, self.requests, self.examples = [], [], 0, 0

    def sign_in(self, role):
        from tests.factories import PASSWORD
        self.client.post("/auth/logout")
        response = self.client.post("/auth/login", data={"username": self.usernames[role],
                                                         "password": PASSWORD})
        assert response.status_code == 302, page_text(response)[:300]

    def example(self, role, visits):
        """Sign in as `role`, make the requests of `visits()` (yielding (method, path, pairs,
        headers)), roll everything back."""
        self.wrong, self.examples = [], self.examples + 1
        savepoint = self.connection.begin_nested()
        try:
            self.sign_in(role)
            for method, path, pairs, headers in visits:
                self.send(method, path, pairs, headers)
        finally:
            self.db.session.close()
            savepoint.rollback()

    def send(self, method, path, pairs, headers):
        self.caplog.clear()
        if method == "GET":
            response = self.client.get(f"{path}?{encoded(pairs)}", headers=headers)
        else:
            body = encoded([("csrf_token", self.client.csrf_token()), *pairs])
            response = self.client.post(path, data=body, headers=headers,
                                        content_type="application/x-www-form-urlencoded")
        response.close()
        self.requests += 1
        if response.status_code >= 500:
            errors = [record.exc_info[1] for record in self.caplog.records if record.exc_info]
            cause = f"{type(errors[-1]).__name__}: {str(errors[-1])[:120]}" if errors else ""
            self.wrong.append((method, path, response.status_code, cause,
                               {k: v[:40] for k, v in pairs}))
            self.log.append(self.wrong[-1])


def spread(names, theme, pool, offset):
    """Field k's value: the theme, or (every other field, when there is a pool) a pool value."""
    return [(name, theme if not pool or (offset + k) % 2 == 0 else
             pool[(offset + k) % len(pool)]) for k, name in enumerate(names)]


@st.composite
def examples(draw):
    return {"role": draw(st.sampled_from(ROLES), label="role"),
            "theme": draw(st.sampled_from(SPECIALS), label="theme"),
            "pool": draw(st.lists(generated_values(), max_size=6), label="pool"),
            "offset": draw(st.integers(0, 99), label="offset"),
            "htmx": draw(st.booleans(), label="htmx")}


#: The themes every run tries first: one of each class of defect issue 22 names.
KNOWN = ["sNaN", "9999-12-01", "9999-12-31", "0001-01-01", "9" * 30]


def fuzz_settings(count):
    """`count` generated examples, bounded and repeatable (a run takes well under a minute per
    test on SQLite); no shrinking: a failure lists every route that answered 5xx in the
    example, with what it was sent."""
    return settings(max_examples=count, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck))


def known_themes(test):
    """Before the generated examples: each KNOWN theme in every field, as the all-roles user."""
    for theme in reversed(KNOWN):
        test = example(case={"role": EVERYONE, "theme": theme, "pool": [], "offset": 0,
                             "htmx": False})(test)
    return test


def _routes(app, client, db, caplog):
    """The sample company, the routes, and a Fuzzer ready to send."""
    caplog.set_level(logging.ERROR, logger="app")
    world = build_world()
    everyone = make_user(sorted(PLAYERS), department=world.users["head1"].department)
    routes = crawl(app, client, world, everyone)
    return routes, Fuzzer(app, client, db, world, everyone, caplog)


def _visits(routes, method, case):
    """The requests of one example: every route of `method` the player may use, its fields
    filled with the example's values."""
    headers = {"HX-Request": "true"} if case["htmx"] else {}
    for n, (route_method, _endpoint, path, roles, names) in enumerate(routes):
        if route_method != method or case["role"] not in roles or (method == "GET" and
                                                                    not names):
            continue
        pairs = spread(names, case["theme"], case["pool"], case["offset"] + 3 * n)
        if method == "POST" and (case["offset"] + n) % 5:  # mostly fresh tokens: further in
            pairs = [(k, new_token() if is_token(k) else v) for k, v in pairs]
        yield method, path, pairs, headers


def test_every_get_route_with_generated_query_values(app, client, db, caplog):
    routes, fuzzer = _routes(app, client, db, caplog)
    # Discovery finds what the views read (a route added later is found the same way).
    params = {endpoint: names for method, endpoint, _p, _r, names in routes if method == "GET"}
    assert {"start", "end", "department", "marketer"} <= set(params["reports.performance_pdf"])
    assert {"start", "end", "marketer"} <= set(params["tasks.birthdays_pdf"])
    assert "department_id" in params["admin.users"] and "page" in params["customers.index"]
    assert "inviter" in params["events.invitations"] and "day" in params["orders.close"]
    assert len(params) > 80 and sum(map(len, params.values())) > 200

    @fuzz_settings(10)
    @known_themes
    @given(case=examples())
    def get_generated(case):
        fuzzer.example(case["role"], _visits(routes, "GET", case))
        assert fuzzer.wrong == [], "\n".join(map(str, fuzzer.wrong))

    get_generated()
    assert fuzzer.examples > len(KNOWN) and fuzzer.requests > 50 * len(KNOWN)


def test_every_post_route_with_generated_form_values(app, client, db, caplog):
    routes, fuzzer = _routes(app, client, db, caplog)
    posts = {path: names for method, _e, path, _r, names in routes if method == "POST"}
    assert len(posts) > 60 and "lines-0-unit_cost" in posts["/inventory/documents/new/receipt"]

    @fuzz_settings(16)
    @known_themes
    @given(case=examples())
    def post_generated(case):
        fuzzer.example(case["role"], _visits(routes, "POST", case))
        assert fuzzer.wrong == [], "\n".join(map(str, fuzzer.wrong))

    post_generated()
    assert fuzzer.examples > len(KNOWN) and fuzzer.requests > 60 * len(KNOWN)


# --- What the walks found, pinned ----------------------------------------------------------------

@pytest.mark.parametrize("raw", ["sNaN", "-sNaN", "NaN", "Infinity", "-Infinity", "1e400",
                                 "1E+999999", "-0.01", "1000000.01", "abc", "\x00"])
def test_a_money_field_refuses_what_is_not_an_amount(app, raw):
    from werkzeug.datastructures import MultiDict

    from blueprints.forms import BaseForm, MoneyField

    class Form(BaseForm):
        class Meta:
            csrf = False
        amount = MoneyField("amount", required=True)

    with app.test_request_context():
        form = Form(MultiDict({"amount": raw}))
        assert not form.validate() and form.amount.data is None
        assert form.amount.errors == ["请填写 ¥0 到 ¥1,000,000 之间的金额。"]
        form = Form(MultiDict({"amount": " -0 "}))
        assert form.validate() and form.amount.data == 0


def test_sNaN_in_every_money_form_is_a_message(client, login, db):
    """sNaN broke WTForms' NumberRange (math.isnan): a 500 on event costs, payments, refunds,
    the order form, packages, products, receipts and gift rules."""
    world = build_world()
    sign_in_as(client, make_user(sorted(PLAYERS)))
    i = world.ids
    posts = {f"/events/{i['event_id']}/costs": {"cost-kind": "venue", "cost-amount": "sNaN"},
             f"/orders/{i['order_id']}/payments": {"pay-amount": "sNaN", "pay-method": "cash"},
             f"/orders/{i['order_id']}/refunds": {"refund-amount": "sNaN"},
             f"/orders/new/{i['customer_id']}": {"lines-0-sku": "X", "lines-0-quantity": "1",
                                                 "lines-0-unit_price": "sNaN",
                                                 "lines-0-discount": "sNaN", "deposit": "sNaN"},
             "/orders/packages/new": {"name": "套餐", "price": "sNaN"},
             "/inventory/products/new": {"sku": "SN1", "name": "x", "unit": "盒",
                                         "sale_price": "sNaN", "standard_cost": "-sNaN"},
             "/inventory/documents/new/receipt": {"lines-0-sku": "X", "lines-0-quantity": "1",
                                                  "lines-0-unit_cost": "sNaN"},
             f"/gifts/events/{i['event_id']}/rules": {"kind": "purchase", "condition": "spend",
                                                      "min_spend": "sNaN"}}
    for path, data in posts.items():
        response = client.post(path, data={"token": new_token(), **data})
        assert response.status_code == 422, (path, response.status_code)
        assert "之间的金额" in page_text(response) or "金额必须大于零" in page_text(response), path


@pytest.mark.parametrize("start, end", [("9999-12-01", ""), ("9999-12-31", "9999-12-31"),
                                        ("0001-01-01", "0001-01-31"), ("1899-12-31", "")])
def test_calendar_end_dates_in_reports_and_the_birthday_list_are_a_message(
        client, login, db, start, end):
    login(make_user(["admin", "manager", "finance", "marketer"]))
    for path in ["/reports/performance", "/reports/performance.pdf", "/reports/performance.xlsx",
                 "/reports/company", "/reports/company.pdf", "/reports/finance",
                 "/reports/finance.pdf", "/reports/finance.xlsx", "/reports/events",
                 "/tasks/birthdays"]:
        response = client.get(path, query_string={"start": start, "end": end})
        assert response.status_code == 422, (path, response.status_code)
        assert "请选择 1900-01-01 至 2999-12-31 之间的日期" in page_text(response), path
    response = client.get("/tasks/birthdays.pdf", query_string={"start": start, "end": end})
    assert response.status_code == 302  # back to the list, the message flashed


def test_the_days_and_ids_of_a_query_string_are_bounded(app):
    from datetime import date

    from formatting import parse_day, parse_id
    with app.test_request_context():
        assert parse_day(" 2999-12-31 ") == date(2999, 12, 31) and parse_day("") is None
        assert parse_day("2026-03-01T08:00") == date(2026, 3, 1)
        for raw in ("0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"):
            with pytest.raises(ValueError, match="1900-01-01 至 2999-12-31"):
                parse_day(raw)
        for raw in ("10000-01-01", "0000-00-00", "2026-02-30", "\x00"):
            with pytest.raises(ValueError, match="不是有效的日期"):
                parse_day(raw)
    assert parse_id("2147483647") == 2**31 - 1 and parse_id(" 12 ") == 12 and parse_id(7) == 7
    for raw in ("2147483648", "9" * 30, "0", "-1", "１２", "٣", "1.0", "", None, "x"):
        assert parse_id(raw) is None, raw


def test_a_huge_department_in_the_user_list_is_ignored(client, login, db):
    login("admin")
    for value in ("9" * 30, "2147483648", "-1"):
        response = client.get("/admin/users", query_string={"department_id": value})
        assert response.status_code == 200, value


def test_the_door_gift_of_an_event_without_one_is_a_message(client, login, db):
    """The htmx tap rendered gifts/_door.html with no attendance rule: a 500."""
    from models import checkin, events
    from tests.factories import make_customer, make_event
    manager = login("manager")
    event = make_event(manager)
    marketer = make_user(["marketer"])
    invitation = events.invite(event, make_customer(marketer, name="王芳"), actor=marketer)
    checkin.check_in(event, invitation, actor=manager, token=new_token())
    response = client.post(f"/gifts/events/{event.id}/attendance/{invitation.customer_id}",
                           data={"token": new_token()}, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "本场会议没有设置到场礼" in page_text(response)


def test_a_token_that_is_not_one_is_refused_where_a_page_is_read_by_hand(client, db):
    """Found on PostgreSQL: a 400-character token, posted to a page whose lines are read by
    hand (no TokenField), reached a 36-character column: a 500."""
    world = build_world()
    sign_in_as(client, make_user(sorted(PLAYERS)))
    i = world.ids
    for path in [f"/points/customers/{i['customer_id']}/adjust",
                 f"/points/customers/{i['customer_id']}/redeem",
                 f"/points/referral-rewards/{i['reward_id']}/give",
                 f"/custody/customers/{i['customer_id']}/pickups",
                 f"/gifts/events/{i['event_id']}/attendance/{i['customer_id']}"]:
        response = client.post(path, data={
            "token": "9" * 400, "points": "5", "reason": "更正", "warehouse_id": i["warehouse_id"],
            f"product-{i['product_id']}": "1", f"line-{i['entry_id']}": "1"},
            headers={"HX-Request": "true"})
        assert response.status_code == 422, (path, response.status_code)
        assert "表单已过期，请刷新页面后重试" in page_text(response), path
