"""Out of scope is a 404: for every route with an object id, a user outside the object's scope
(the other department's marketer and head, event staff of another event) gets 404 — never a 403
that confirms the row exists, and never the row — and a refused POST writes nothing.

The routes come from app.url_map and their roles from the MATRIX of test_permissions, so a new
route with an id is walked without being listed here."""
import pytest

from tests.blueprints.test_permissions import MATRIX
from tests.world import build_world, fill, sign_in_as, table_counts

#: URL arguments naming a customer's data (scoped to owner / department / the event's guests).
CUSTOMER_DATA = {"customer_id", "order_id", "payment_id", "invitation_id", "issue_id",
                 "pickup_id", "entry_id", "redemption_id", "task_id", "token"}
#: Role → (the outsider in the world, the arguments whose rows it must not reach).
OUTSIDERS = {
    "marketer": ("m2", CUSTOMER_DATA),
    "dept_head": ("head2", CUSTOMER_DATA),
    "event_staff": ("staff2", CUSTOMER_DATA | {"event_id"}),
}
#: Their counterparts inside the scope (the same requests must reach the row).
INSIDERS = {"marketer": "m1", "dept_head": "head1", "event_staff": "staff1"}
#: An import batch is its uploader's own working file: not even their head opens it.
PRIVATE = {"dept_head": {"token"}}


def scoped_routes(app, role, scoped_args):
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in MATRIX or role not in MATRIX[rule.endpoint]:
            continue
        if not set(rule.arguments) & scoped_args:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
def test_outside_the_scope_is_a_404(app, client, db, role):
    world = build_world()
    name, scoped_args = OUTSIDERS[role]
    walked = list(scoped_routes(app, role, scoped_args))
    assert walked, role
    sign_in_as(client, world.users[name])
    wrong = []
    for rule, method in walked:
        path = fill(rule, world.ids)
        before = table_counts() if method == "POST" else None
        response = client.open(path, method=method, data={} if method == "POST" else None)
        body = response.get_data(as_text=True)
        response.close()
        if response.status_code != 404:
            wrong.append((rule.endpoint, method, response.status_code))
        elif before is not None and table_counts() != before:
            wrong.append((rule.endpoint, method, "wrote"))
        for secret in ("顾客一",):
            if secret in body:
                wrong.append((rule.endpoint, method, "shows the customer"))
    assert wrong == []


@pytest.mark.parametrize("role", sorted(INSIDERS))
def test_inside_the_scope_the_same_pages_open(app, client, db, role):
    """The ids the test above uses are real: the owner's side opens every page."""
    world = build_world()
    sign_in_as(client, world.users[INSIDERS[role]])
    missing = []
    for rule, method in scoped_routes(app, role, OUTSIDERS[role][1] - PRIVATE.get(role, set())):
        if method != "GET":
            continue
        response = client.get(fill(rule, world.ids))
        response.close()
        if response.status_code == 404:
            missing.append(rule.endpoint)
    assert missing == []
