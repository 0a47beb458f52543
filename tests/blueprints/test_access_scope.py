"""Out of scope is a 404: for every route with an object id, a user outside the object's scope
(the other department's marketer and head, event staff of another event) gets 404 — never a 403
that confirms the row exists, and never the row — and a refused POST writes nothing. Nothing of a
customer outside one's scope shows anywhere, not even a name: no response body (HTML, JSON, the
text of a PDF, the cells of a spreadsheet) carries their name or phone, in full or masked.

The routes come from app.url_map and their roles from the MATRIX of test_permissions, so a new
route with an id is walked without being listed here."""
import io
import json
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from extensions import db as _db
from formatting import masked_phone, national_phone
from models import events as ev
from models.customers import Customer
from tests.blueprints.test_permissions import MATRIX
from tests.factories import make_customer
from tests.world import build_world, fill, sign_in_as, table_counts

#: URL arguments naming a customer's data (scoped to owner / department / the event's guests).
CUSTOMER_DATA = {"customer_id", "order_id", "payment_id", "invitation_id", "issue_id",
                 "pickup_id", "entry_id", "redemption_id", "task_id", "ticket_id", "token"}
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
#: A background run is its starter's own (its page, its workbook): a 404 to anyone else is
#: walked by the outsiders' test; the starter reaching it, by tests/blueprints/test_background_runs.
OWN_RUNS = {"runs.show", "runs.restart", "runs.download"}


def scoped_routes(app, role, scoped_args):
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in MATRIX or role not in MATRIX[rule.endpoint]:
            continue
        if not set(rule.arguments) & scoped_args:
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule, method


def shown_text(response):
    """Everything a response shows a person, whitespace removed (a PDF may break a name over
    two lines): an HTML or text body as sent, JSON decoded (jsonify writes Chinese as \\uXXXX),
    the text of a PDF, the cells of a spreadsheet."""
    data = response.get_data()
    if response.mimetype == "application/pdf":
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    elif response.mimetype.endswith("spreadsheetml.sheet"):
        book = load_workbook(io.BytesIO(data), read_only=True)
        text = " ".join(str(value) for sheet in book for row in sheet.iter_rows(values_only=True)
                        for value in row if value is not None)
        book.close()
    elif response.is_json:
        text = json.dumps(response.get_json(), ensure_ascii=False)
    else:
        text = data.decode("utf-8", "replace")
    return re.sub(r"\s+", "", text)


def secrets_of(customers):
    """What must not show of these customers: the name (also as |tojson writes it in an HTML
    attribute) and each phone with and without +86, and masked (138****8000)."""
    secrets = set()
    for customer in customers:
        secrets |= {customer.name, json.dumps(customer.name)[1:-1]}
        for phone in filter(None, (customer.phone, customer.phone2)):
            secrets |= {phone, national_phone(phone), masked_phone(phone)}
    return {re.sub(r"\s+", "", secret) for secret in secrets}


def leaks(response, secrets):
    text = shown_text(response)
    return sorted(secret for secret in secrets if secret in text)


def customers_where(*clauses):
    return _db.session.scalars(select(Customer).where(*clauses)).all()


def refusal_problems(client, path, method, secrets):
    """What is wrong with how `path` answers a request for a row out of scope: anything but a
    404, a write, or a name or phone of `secrets` in the answer — a POST asked plainly and as
    htmx asks it, and the next page (where a refusal's flashed message would show)."""
    problems = []
    for headers in ({},) if method == "GET" else ({}, {"HX-Request": "true"}):
        before = table_counts() if method == "POST" else None
        response = client.open(path, method=method, headers=headers,
                               data={} if method == "POST" else None)
        if response.status_code != 404:
            problems.append((method, headers, response.status_code))
        elif before is not None and table_counts() != before:
            problems.append((method, headers, "wrote"))
        if shown := leaks(response, secrets):
            problems.append((method, headers, "shows", shown))
        response.close()
    if method == "POST":
        response = client.get("/", follow_redirects=True)
        if shown := leaks(response, secrets):
            problems.append((method, "next page", "shows", shown))
        response.close()
    return problems


@pytest.mark.parametrize("role", sorted(OUTSIDERS))
def test_outside_the_scope_is_a_404(app, client, db, role):
    world = build_world()
    name, scoped_args = OUTSIDERS[role]
    walked = list(scoped_routes(app, role, scoped_args))
    assert walked, role
    # Department 1's customers: the one the ids name and the friend they referred.
    secrets = secrets_of(customers_where(Customer.owner_id == world.users["m1"].id))
    sign_in_as(client, world.users[name])
    wrong = [(rule.endpoint, *problem) for rule, method in walked
             for problem in refusal_problems(client, fill(rule, world.ids), method, secrets)]
    assert not wrong, "\n".join(map(str, wrong))


@pytest.mark.parametrize("role", sorted(INSIDERS))
def test_inside_the_scope_the_same_pages_open(app, client, db, role):
    """The ids the test above uses are real: the owner's side opens every page."""
    world = build_world()
    sign_in_as(client, world.users[INSIDERS[role]])
    missing = []
    for rule, method in scoped_routes(app, role, OUTSIDERS[role][1] - PRIVATE.get(role, set())):
        if method != "GET" or rule.endpoint in OWN_RUNS:
            continue
        response = client.get(fill(rule, world.ids))
        response.close()
        if response.status_code == 404:
            missing.append(rule.endpoint)
    assert missing == []


# --- Names of customers outside one's scope, on one's own pages ------------------------------

def shared_world():
    """The sample company, with event 1 also expecting a guest of department 2 (confirmed, not
    here yet): an event both departments invite to, as most are."""
    world = build_world()
    guest = make_customer(world.users["m2"], name="顾客三")
    # Invited while invitations were open (the world's event is under way by now).
    _db.session.add(ev.Invitation(event_id=world.ids["event_id"], customer_id=guest.id,
                                  inviter_id=world.users["m2"].id, status="confirmed"))
    _db.session.flush()
    return world


def outside_customers(world, role):
    """The customers the insider of `role` may not see (DESIGN §2), stated from the world rather
    than asked of models.scoping: a marketer sees their own (and the public pool), a department
    head their department's, event staff the guests of the event they work."""
    me = world.users[INSIDERS[role]]
    if role == "marketer":
        return customers_where(Customer.owner_id != me.id, Customer.status != "pool")
    if role == "dept_head":
        return customers_where(Customer.department_id != me.department_id)
    guests = select(ev.Invitation.customer_id).where(
        ev.Invitation.event_id == world.ids["event_id"])
    return customers_where(Customer.id.not_in(guests))


@pytest.mark.parametrize("role", sorted(INSIDERS))
def test_own_event_with_someone_elses_customer_is_a_404(app, client, db, role):
    """Every route with a customer's row, as the insider, with the row of a customer outside
    their scope and every other id their own (their event, their department): a 404 that
    writes nothing and names nobody. (Event staff at their own event tapping the gift of a
    customer who was never invited there must not learn the name.)"""
    world = shared_world()
    ids = {**world.ids, **{arg: world.other_ids[arg] for arg in CUSTOMER_DATA}}
    secrets = secrets_of(outside_customers(world, role))
    assert secrets
    sign_in_as(client, world.users[INSIDERS[role]])
    walked = list(scoped_routes(app, role, CUSTOMER_DATA))
    wrong = [(rule.endpoint, *problem) for rule, method in walked
             for problem in refusal_problems(client, fill(rule, ids), method, secrets)]
    assert walked
    assert not wrong, "\n".join(map(str, wrong))


def pages(app, role):
    """Every GET route `role` may open."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in MATRIX and role in MATRIX[rule.endpoint] and "GET" in rule.methods:
            yield rule


@pytest.mark.parametrize("role", sorted(INSIDERS))
def test_own_pages_name_no_customer_outside_the_scope(app, client, db, role):
    """Every page the insider opens — lists, boards, reports, PDFs, spreadsheets — with their
    own rows, and with the other event where the event is not theirs to be kept from: no
    name or phone of a customer outside their scope. (A department head at the live board of
    an event both departments invited to sees their own guests by name, the others' as a
    count.)"""
    world = shared_world()
    secrets = secrets_of(outside_customers(world, role))
    sign_in_as(client, world.users[INSIDERS[role]])
    walks = [world.ids]
    if "event_id" not in OUTSIDERS[role][1]:
        walks.append({**world.ids, "event_id": world.other_ids["event_id"]})
    opened, wrong = set(), []
    for ids in walks:
        for rule in pages(app, role):
            if ids is not world.ids and "event_id" not in rule.arguments:
                continue
            response = client.get(fill(rule, ids))
            if response.status_code == 200:
                opened.add(fill(rule, ids))
            if shown := leaks(response, secrets):
                wrong.append((rule.endpoint, ids["event_id"], "shows", shown))
            response.close()
    assert len(opened) > 10
    assert not wrong, "\n".join(map(str, wrong))
