"""Hostile input on every POST route: no 500, and a refused form writes nothing.

The routes come from app.url_map (their URL ids filled with a sample company's rows, their
roles from the MATRIX of test_permissions); the fields of each route are read from the forms the
app's own pages render (so a new route with a form is walked without being listed here). Every
field gets hand-picked bad values — empty, huge, unicode edge cases, negative and overflowing
numbers, SQL and HTML fragments, the other department's ids — and then hypothesis-generated ones.
A response of 400 or more is a refusal: every table's row count must be as before.
(test_odd_input.py sends odd values to chosen routes with the other fields valid.)
"""
from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings, strategies as st
from werkzeug.exceptions import HTTPException

from models.base import new_token
from tests.blueprints.test_permissions import MATRIX
from tests.conftest import page_text
from tests.world import build_world, fill, sign_in_as, table_counts

#: Who plays each role: inside department 1 and event 1, where the URL ids point.
PLAYERS = {"admin": "admin", "manager": "manager", "dept_head": "head1", "marketer": "m1",
           "event_staff": "staff1", "warehouse": "warehouse", "finance": "finance"}
#: Signing in and out are not forms with data to attack.
SKIP = {"auth.login", "auth.logout"}
#: Field names a form may carry that no page shows before some step (added by scripts, or by
#: rows the page adds): sent to every route too.
EXTRA_FIELDS = ("token", "reason", "note", "amount", "quantity", "ids", "lines-0-sku",
                "lines-0-quantity", "customer_id", "warehouse_id", "event_id")

BAD = ["", " ", "0", "-1", "-99999999999", "99999999999999999999", "1e309", "NaN", "1.5",
       "０１２", "²³", "٣", "9" * 400, "x" * 100_000, "🙂" * 300, "\u202eevil", "\ufeff",
       "a\u0301" * 50, "\ud7ff", "'; DROP TABLE customers; --", "1 OR 1=1",
       "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "{{7*7}}", "%s%n",
       "../../etc/passwd", "=cmd|' /C calc'!A0", "2026-02-30", "9999-12-31", "0001-01-01",
       "true", "on", "null", "[]", "\r\n", "\t"]


class FormFields(HTMLParser):
    """{action path: set of field names} of the POST forms (and hx-post elements) of a page."""

    def __init__(self, page_path):
        super().__init__()
        self.page_path, self.forms, self.current = page_path, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = attrs.get("hx-post") or (attrs.get("action") if (
                attrs.get("method") or "").lower() == "post" else None)
            if action is None and (attrs.get("method") or "").lower() == "post":
                action = self.page_path
            self.current = self.forms.setdefault(urlsplit(action).path, set()) \
                if action is not None else None
        elif tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            if self.current is not None:
                self.current.add(attrs["name"])
            if attrs.get("hx-post"):
                self.forms.setdefault(urlsplit(attrs["hx-post"]).path, set()).add(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None


def crawl_forms(app, client, world):
    """{endpoint: field names} from every page, seen by a user with every role."""
    from tests.factories import make_user
    everyone = make_user(sorted(PLAYERS), department=world.users["head1"].department)
    sign_in_as(client, everyone)
    adapter = app.url_map.bind("localhost")
    fields = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "auth.logout"):
            continue
        path = fill(rule, world.ids)
        with client.get(path) as response:
            if response.mimetype != "text/html":
                continue
            parser = FormFields(path)
            parser.feed(response.get_data(as_text=True))
        for action, names in parser.forms.items():
            try:
                endpoint, _args = adapter.match(action, method="POST")
            except HTTPException:
                continue
            fields.setdefault(endpoint, set()).update(names)
    client.post("/auth/logout")
    return fields


def is_token(name):
    return name.endswith("token") and not name.endswith("csrf_token")


class Walk:
    """Posts as the players, remembering who is signed in, collecting what went wrong."""

    def __init__(self, app, client, world):
        self.client, self.world, self.signed_in, self.wrong, self.posts = client, world, None, [], 0
        self.counts = None  # the row counts as of the last refused post (None: unknown)
        self.fields = crawl_forms(app, client, world)
        self.routes = []
        for rule in app.url_map.iter_rules():
            if "POST" in rule.methods and rule.endpoint not in SKIP:
                roles = sorted(MATRIX[rule.endpoint] & set(PLAYERS))
                names = sorted((self.fields.get(rule.endpoint, set()) | set(EXTRA_FIELDS))
                               - {"csrf_token"})
                self.routes.append((rule, roles, names))

    def post(self, rule, role, data):
        if self.signed_in != role:
            sign_in_as(self.client, self.world.users[PLAYERS[role]])
            self.signed_in, self.counts = role, None  # signing in is audited
        before = self.counts or table_counts()
        response = self.client.post(fill(rule, self.world.ids), data=data)
        response.close()
        self.posts += 1
        self.counts = None
        if response.status_code >= 500:
            self.wrong.append((rule.endpoint, role, response.status_code, _short(data)))
        elif response.status_code >= 400:
            self.counts = table_counts()
            changed = {name: (n, self.counts[name]) for name, n in before.items()
                       if n != self.counts[name]}
            if changed:
                self.wrong.append((rule.endpoint, role, response.status_code, "wrote",
                                   changed, _short(data)))
        if rule.endpoint == "auth.preferences" and response.status_code == 302:
            self.signed_in = None  # the language may have changed: sign in afresh


def _short(data):
    return {k: (v[:40] + "…" if isinstance(v, str) and len(v) > 40 else v)
            for k, v in data.items()}


def rotated(names, values, offset, fresh_tokens=True):
    """A form with field k holding values[offset + k] (tokens fresh unless told otherwise)."""
    return {name: new_token() if fresh_tokens and is_token(name)
            else values[(offset + k) % len(values)] for k, name in enumerate(names)}


def test_every_post_route_as_every_role_with_bad_values(app, client, db):
    world = build_world()
    walk = Walk(app, client, world)
    assert len(walk.routes) > 60 and sum(len(f) for f in walk.fields.values()) > 150
    values = BAD + sorted({str(v) for k, v in world.other_ids.items() if world.ids[k] != v})
    # Each route as each role that may post it, the bad values rotating over the fields (so
    # every field meets a different one each time), grouped by role: one sign-in each.
    plan, offset = {}, 0
    for rule, roles, names in walk.routes:
        for role in roles:
            offset += 7
            plan.setdefault(role, []).append((rule, rotated(names, values, offset,
                                                            offset % 5 != 0)))
    for role, posts in plan.items():
        for rule, data in posts:
            walk.post(rule, role, data)
    assert walk.wrong == []
    assert walk.posts == sum(len(roles) for _rule, roles, _names in walk.routes)


def field_values(other_ids):
    scalar = st.one_of(
        st.text(max_size=30), st.text(st.characters(codec="utf-8"), min_size=200, max_size=2000),
        st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
        st.decimals(allow_nan=False, places=2).map(str), st.dates().map(str),
        st.sampled_from(BAD), st.sampled_from([str(v) for v in other_ids.values()]))
    return scalar


def test_every_post_route_with_generated_values(app, client, db):
    world = build_world()
    walk = Walk(app, client, world)
    routes = st.sampled_from(walk.routes)
    values = field_values(world.other_ids)

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def post_generated(data):
        rule, roles, names = data.draw(routes, label="route")
        role = data.draw(st.sampled_from(roles), label="role")
        form = {name: data.draw(values, label=name) for name in names}
        if data.draw(st.booleans(), label="fresh tokens"):
            form.update({name: new_token() for name in names if is_token(name)})
        walk.post(rule, role, form)
        assert walk.wrong == []

    post_generated()


def test_numbers_out_of_range_get_a_message_not_a_500(client, login, db):
    """Found by the walk: a 400-digit number broke WTForms' range check, and the Chinese
    message of the points multiplier had a bare “%”."""
    from tests.factories import make_event
    me = login("manager")
    form = {"sku": "HOST1", "name": "灵芝", "unit": "盒", "sale_price": "10", "for_sale": "y"}
    response = client.post("/inventory/products/new", data={**form, "points_multiplier": "5000"})
    assert response.status_code == 422 and "积分倍数须在 0 到 1000 之间" in page_text(response)
    event = make_event(me)
    response = client.post(f"/events/{event.id}/tables", data={
        "table-number": "9" * 400, "table-seats": "10"})
    assert response.status_code == 422 and "数字太大" in page_text(response)


def test_a_huge_id_in_any_url_is_not_found(app, client, login, db):
    """/customers/99999999999999999999 is an id no table holds: 404, where PostgreSQL would
    refuse the number itself (a 500 before ids in URLs were bounded)."""
    import re
    login("manager")
    huge, checked = "99999999999999999999", 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule or "GET" not in rule.methods:
            continue
        path = re.sub(r"<int:\w+>", huge, rule.rule)
        if "<" in path:  # another kind of argument too
            continue
        status = client.get(path).status_code
        assert status in (403, 404), (path, status)
        checked += 1
    assert checked > 40
    assert client.post(f"/checkin/{huge}/scan", data={"code": "x"}).status_code == 404
