"""The same one-time token sent by 8 clients at once, and the same entry reversed from 8
sessions at once: exactly one row is written and every client gets an answer (never a 5xx) —
the first result, as a single resubmission gets it.

Which keys must hold is read from the metadata: every table with a unique `token` or
`reverses_id` column needs a race below (a new ledger fails `test_every_key_has_a_race` until it
gets one). Each client signs in on its own session and its requests run in their own threads,
so on PostgreSQL each has its own connection; on SQLite the writers queue at BEGIN IMMEDIATE.
"""
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import UniqueConstraint, func, select

from extensions import db
from models.base import new_token
from tests.conftest import Client
from tests.factories import company_today, PASSWORD
from tests.races import race as run_together
from tests.world import build_world

CLIENTS = 8

#: Unique tokens that no form sends: made by the server, never resubmitted.
NOT_FORM_TOKENS = {
    ("invitations", "token"): "the QR code printed on the invitation card",
    ("import_batches", "token"): "the import batch's address, made at upload",
    ("opening_batches", "token"): "the opening balances import's address, made at upload",
    ("background_runs", "token"): "a background run's address, made when it is queued",
}


def unique_keys():
    """(table, column) of every single-column unique `token` or `reverses_id`."""
    keys = set()
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if column.name not in ("token", "reverses_id"):
                continue
            if column.unique or any(
                    isinstance(c, UniqueConstraint) and list(c.columns.keys()) == [column.name]
                    for c in table.constraints) or any(
                    index.unique and list(index.columns.keys()) == [column.name]
                    for index in table.indexes):
                keys.add((table.name, column.name))
    return keys


class FormValues(HTMLParser):
    """What a browser sends from the form of a page whose action is `action`."""

    def __init__(self, page, action):
        super().__init__()
        self.page, self.action = page, action
        self.values, self.inside, self.select, self.textarea = {}, False, None, None
        self.found = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            target = attrs.get("hx-post") or attrs.get("action") or self.page
            self.inside = (attrs.get("method") or "").lower() == "post" or "hx-post" in attrs
            self.inside = self.inside and urlsplit(target).path == self.action
            self.found = self.found or self.inside
            return
        if not self.inside or not attrs.get("name") and tag != "option":
            return
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.values[attrs["name"]] = attrs.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select":
            self.select = attrs["name"]
        elif tag == "option" and self.select:
            if self.select not in self.values or "selected" in attrs:
                self.values[self.select] = attrs.get("value", "")
        elif tag == "textarea":
            self.textarea = attrs["name"]
            self.values[self.textarea] = ""

    def handle_data(self, data):
        if self.inside and self.textarea:
            self.values[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def form_of(client, page, action):
    """The values of the form posting to `action` on `page`, as rendered (csrf left out)."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    parser = FormValues(page, action)
    parser.feed(response.get_data(as_text=True))
    assert parser.found, f"no form posting to {action} on {page}"
    parser.values.pop("csrf_token", None)
    return parser.values


@dataclass
class Race:
    """What the clients send. `page`: the form is read from it (per client when `per_client`,
    i.e. 8 people each on their own page; else once, and all 8 send the same token)."""
    key: tuple
    who: str
    action: str
    fields: dict = field(default_factory=dict)
    page: str | None = None
    per_client: bool = False
    #: The rows that must exist exactly once afterwards: a select of their count.
    count: object = None


def signed_in(app, user):
    app.test_client_class = Client
    client = app.test_client()
    response = client.post("/auth/login", data={"username": user.username,
                                                "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


# --- The races, one or more per key ----------------------------------------------------------

def _setup(w):
    """Rows the races need beyond the world: a fresh receipt, a guest to check in."""
    from models import checkin, events, inventory as inv
    from tests.factories import make_customer, make_product
    u = w.users
    fresh = make_product("深海鱼油", actor=u["warehouse"])
    receipt = inv.create_receipt(warehouse=db.session.get(inv.Warehouse, w.ids["warehouse_id"]),
                                 actor=u["warehouse"], token=new_token(),
                                 lines=[{"product": fresh, "quantity": 10, "batch_number": "F1"}])
    event = db.session.get(events.Event, w.ids["event_id"])
    status, event.status = event.status, "open"  # the door is on: invite as if the day before
    guest = make_customer(u["m1"], name="新来宾")
    invitation = events.invite(event, guest, actor=u["m1"])
    events.change_invitation(invitation, "confirmed", actor=u["m1"])
    uninvited = make_customer(u["m1"], name="不请自来")  # walks in: known by the mobile
    late = make_customer(u["m1"], name="迟到者")
    late_invitation = events.invite(event, late, actor=u["m1"])
    events.change_invitation(late_invitation, "confirmed", actor=u["m1"])
    event.status = status
    checkin.check_in(event, late_invitation, actor=u["manager"], token=new_token())
    return dict(receipt=receipt, fresh=fresh, invitation=invitation, guest=guest, late=late,
                uninvited=uninvited,
                late_invitation=late_invitation)


def _races(w, s):
    from models import aftersales, custody, customers, gifts, inventory as inv, orders, points
    from models.checkin import CheckIn
    from models.door import DoorConflict
    ids, token = w.ids, new_token()
    product = db.session.get(inv.Product, ids["product_id"])
    gift = db.session.scalar(select(inv.Product).where(inv.Product.is_gift.is_(True)))
    order_page = f"/orders/{ids['order_id']}"
    held_line = next(line for line in db.session.get(orders.Order, ids["order_id"]).lines
                     if line.held)
    redeemed = db.session.scalar(select(points.PointsEntry.id).where(
        points.PointsEntry.redemption_id == ids["redemption_id"]))

    def by_token(model, value=token):
        return select(func.count()).select_from(model).where(model.token == value)

    def reversals(model, target):
        return select(func.count()).select_from(model).where(model.reverses_id == target)

    return {
        "order": Race(
            ("orders", "token"), "m1", f"/orders/new/{ids['customer_id']}",
            page=f"/orders/new/{ids['customer_id']}",
            fields={"channel": "store", "lines-0-sku": product.sku, "lines-0-quantity": "1",
                    "deposit": "10.00"},
            count=select(func.count()).select_from(orders.Order).where(
                orders.Order.customer_id == ids["customer_id"])),
        "payment": Race(
            ("payments", "token"), "finance", f"/orders/{ids['order_id']}/payments",
            page=order_page, fields={"pay-amount": "1.00"},
            count=select(func.count()).select_from(orders.Payment).where(
                orders.Payment.order_id == ids["order_id"], orders.Payment.amount == 100)),
        "refund": Race(
            ("payments", "token"), "manager", f"/orders/{ids['order_id']}/refunds",
            page=order_page, fields={"refund-amount": "1.00", "refund-reason": "多收",
                                     "refund-goodwill": "y"},
            count=select(func.count()).select_from(orders.Payment).where(
                orders.Payment.order_id == ids["order_id"], orders.Payment.kind == "refund")),
        "payment reversal": Race(
            ("payments", "reverses_id"), "finance",
            f"/orders/payments/{ids['payment_id']}/reverse", page=order_page, per_client=True,
            fields={"reverse-reason": "录错"},
            count=reversals(orders.Payment, ids["payment_id"])),
        "return": Race(
            ("order_returns", "token"), "finance", f"/orders/{ids['order_id']}/returns",
            page=order_page, fields={"return-quantity": "1", "return-reason": "不想要了"},
            count=select(func.count()).select_from(orders.OrderReturn).where(
                orders.OrderReturn.order_id == ids["order_id"])),
        "check-in": Race(
            ("check_ins", "token"), "staff1", f"/checkin/{ids['event_id']}/check-in",
            fields={"invitation_id": str(s["invitation"].id), "token": token,
                    "companions": "0"},
            count=select(func.count()).select_from(CheckIn).where(
                CheckIn.invitation_id == s["invitation"].id)),
        "known walk-in": Race(
            ("check_ins", "token"), "staff1", f"/checkin/{ids['event_id']}/walk-in/known",
            page=f"/checkin/{ids['event_id']}/walk-in?phone={s['uninvited'].phone}",
            count=select(func.count()).select_from(CheckIn).where(
                CheckIn.customer_id == s["uninvited"].id)),
        "door conflict": Race(
            ("door_conflicts", "token"), "staff1", f"/checkin/{ids['event_id']}/queue",
            fields={"kind": "check_in", "token": token,
                    "invitation_id": str(s["late_invitation"].id), "queued": "y",
                    "queued_ms": str(int(time.time() * 1000)), "device": "平板1"},
            count=by_token(DoorConflict)),
        "receipt": Race(
            ("stock_documents", "token"), "warehouse", "/inventory/documents/new/receipt",
            page="/inventory/documents/new/receipt",
            fields={"lines-0-sku": product.sku, "lines-0-quantity": "5",
                    "lines-0-batch_number": "R9"},
            count=select(func.count()).select_from(inv.StockDocument).where(
                inv.StockDocument.kind == "receipt", inv.StockDocument.supplier == "",
                inv.StockDocument.id > s["receipt"].id)),
        "stock count": Race(
            ("stock_counts", "token"), "warehouse", "/inventory/counts", page="/inventory/counts",
            fields={"warehouse_id": str(ids["warehouse_id"])},
            count=select(func.count()).select_from(inv.StockCount).where(
                inv.StockCount.warehouse_id == ids["warehouse_id"])),
        "document reversal": Race(
            ("stock_moves", "reverses_id"), "warehouse",
            f"/inventory/documents/{s['receipt'].id}/reverse",
            page=f"/inventory/documents/{s['receipt'].id}", per_client=True,
            fields={"note": "录错"},
            count=select(func.count()).select_from(inv.StockMove).where(
                inv.StockMove.reverses_id.in_(select(inv.StockMove.id).where(
                    inv.StockMove.document_type == "stock_documents",
                    inv.StockMove.document_id == s["receipt"].id)))),
        "manual gift": Race(
            ("gift_issues", "token"), "manager", f"/gifts/orders/{ids['order_id']}/manual",
            page=order_page, fields={"manual-product_id": str(gift.id), "manual-quantity": "1",
                                     "manual-note": "老顾客"},
            count=select(func.count()).select_from(gifts.GiftIssue).where(
                gifts.GiftIssue.kind == "manual")),
        "referral gift": Race(
            ("gift_issues", "token"), "manager",
            f"/points/referral-rewards/{ids['reward_id']}/give",
            fields={"token": token},
            count=select(func.count()).select_from(gifts.GiftIssue).where(
                gifts.GiftIssue.kind == "referral")),
        "gift reversal": Race(
            ("gift_issues", "reverses_id"), "warehouse", f"/gifts/issues/{ids['issue_id']}/reverse",
            fields={"reverse-reason": "录错"}, per_client=True,
            count=reversals(gifts.GiftIssue, ids["issue_id"])),
        "pickup": Race(
            ("custody_pickups", "token"), "manager",
            f"/custody/customers/{ids['customer_id']}/pickups",
            fields={f"line-{held_line.id}": "1", "token": token, "release_reason": "先领"},
            count=by_token(custody.CustodyPickup)),
        "custody reversal": Race(
            ("custody_entries", "reverses_id"), "warehouse",
            f"/custody/entries/{ids['entry_id']}/reverse", fields={"reason": "录错"},
            per_client=True, count=reversals(custody.CustodyEntry, ids["entry_id"])),
        "points adjustment": Race(
            ("points_entries", "token"), "manager",
            f"/points/customers/{ids['customer_id']}/adjust",
            fields={"points": "50", "reason": "补录", "token": token},
            count=by_token(points.PointsEntry)),
        "redemption": Race(
            ("points_redemptions", "token"), "warehouse",
            f"/points/customers/{ids['customer_id']}/redeem",
            fields={f"product-{gift.id}": "1", "warehouse_id": str(ids["warehouse_id"]),
                    "token": token},
            count=by_token(points.Redemption)),
        "redemption reversal": Race(
            ("points_entries", "reverses_id"), "manager",
            f"/points/redemptions/{ids['redemption_id']}/reverse", fields={"reason": "录错"},
            per_client=True, count=reversals(points.PointsEntry, redeemed)),
        "channel cost": Race(
            ("channel_costs", "token"), "finance", "/customers/channel-costs",
            page="/customers/channel-costs",
            fields={"channel_id": str(db.session.scalar(select(customers.Channel.id).where(
                customers.Channel.name == "电台讲座"))), "amount": "123.00", "note": "报纸广告"},
            count=select(func.count()).select_from(customers.ChannelCost).where(
                customers.ChannelCost.amount_fen == 12300)),
        "ticket": Race(
            ("aftersales_tickets", "token"), "m1", f"/aftersales/new/{ids['customer_id']}",
            page=f"/aftersales/new/{ids['customer_id']}",
            fields={"kind": "visit", "description": "上门看看血压计"},
            count=select(func.count()).select_from(aftersales.Ticket).where(
                aftersales.Ticket.description == "上门看看血压计")),
        "ticket note": Race(
            ("aftersales_notes", "token"), "m1", f"/aftersales/{ids['ticket_id']}/notes",
            page=f"/aftersales/{ids['ticket_id']}", fields={"note-text": "顾客又来电催"},
            count=select(func.count()).select_from(aftersales.TicketNote).where(
                aftersales.TicketNote.text == "顾客又来电催")),
        "channel cost reversal": Race(
            ("channel_costs", "reverses_id"), "finance",
            f"/customers/channel-costs/{ids['channel_cost_id']}/reverse",
            fields={"reason": "录错"}, per_client=True,
            count=reversals(customers.ChannelCost, ids["channel_cost_id"])),
    }


RACES = ["order", "payment", "refund", "payment reversal", "return", "check-in", "known walk-in",
         "door conflict", "receipt", "stock count", "document reversal", "manual gift",
         "referral gift", "gift reversal", "pickup", "custody reversal", "points adjustment",
         "redemption", "redemption reversal", "channel cost", "channel cost reversal",
         "ticket", "ticket note"]


def test_every_key_has_a_race(app, db):
    w = build_world()
    races = _races(w, _setup(w))
    assert sorted(races) == sorted(RACES)
    missing = unique_keys() - {race.key for race in races.values()} - set(NOT_FORM_TOKENS)
    assert missing == set(), f"add a race to tests/blueprints/test_races.py for {missing}"


@pytest.mark.parametrize("name", RACES)
def test_the_same_submission_from_8_clients_writes_once_and_always_answers(app, committed_db,
                                                                            name):
    w = build_world()
    s = _setup(w)
    race = _races(w, s)[name]
    before = db.session.scalar(race.count)
    db.session.commit()
    user = w.users[race.who]
    clients = [signed_in(app, user) for _ in range(CLIENTS)]
    if race.per_client:  # 8 people, each on their own page
        forms = [{**(form_of(client, race.page, race.action) if race.page else {}),
                  **race.fields} for client in clients]
    else:  # one page sent 8 times: the same token
        shared = {**(form_of(clients[0], race.page, race.action) if race.page else {}),
                  **race.fields}
        forms = [dict(shared) for _ in clients]
    answers = [None] * CLIENTS

    def post(i):
        response = clients[i].post(race.action, data=forms[i])
        answers[i] = (response.status_code, response.get_data(as_text=True)[:300])
        response.close()

    assert run_together(post, range(CLIENTS), timeout=120) == []
    db.session.remove()
    after = db.session.scalar(race.count)
    statuses = sorted(status for status, _body in answers)
    assert [a for a in answers if a is None or a[0] >= 500] == [], statuses
    assert after - before == 1, (after, before, statuses)
    if not race.per_client:  # a resubmission gets the first result: the same page
        assert len({status for status, _body in answers}) == 1, statuses


# --- Unique keys without a token: a double tap on a form that makes a named thing ------------

def _double_taps(w):
    """Forms without a one-time token whose row a unique key keeps single. Two taps at once
    write one row; the second is told it was just saved (409), never a 500."""
    from models.accounts import User
    from models.events import Invitation
    from models.inventory import Product
    from models.orders import CashClose
    from tests.factories import make_customer, make_event
    event = make_event(w.users["manager"], title="讲座三")
    guest = make_customer(w.users["m1"], name="受邀人")
    today = company_today()
    return {
        "invitation": Race(
            ("invitations", "event_id, customer_id"), "m1", f"/events/invite/{guest.id}",
            fields={"event_id": str(event.id), "companions": "0"},
            count=select(func.count()).select_from(Invitation).where(
                Invitation.customer_id == guest.id)),
        "product": Race(
            ("products", "sku"), "warehouse", "/inventory/products/new",
            page="/inventory/products/new",
            fields={"sku": "NEW-1", "name": "新品", "sale_price": "10.00"},
            count=select(func.count()).select_from(Product).where(Product.sku == "NEW-1")),
        "daily close": Race(
            ("cash_closes", "cashier_id, day, session"), "finance", f"/orders/close?day={today}",
            fields={"cashier_id": str(w.users["m1"].id), "declared-cash": "0"},
            count=select(func.count()).select_from(CashClose).where(
                CashClose.cashier_id == w.users["m1"].id)),
        "user": Race(
            ("users", "username"), "admin", "/admin/users/new", page="/admin/users/new",
            fields={"username": "twice", "display_name": "两次", "password": "Xk9!pass-2026",
                    "confirm": "Xk9!pass-2026",
                    "roles": "marketer"},
            count=select(func.count()).select_from(User).where(User.username == "twice")),
    }


@pytest.mark.parametrize("name", ["invitation", "product", "daily close", "user"])
def test_a_double_tap_on_a_form_without_a_token_never_answers_500(app, committed_db, name):
    w = build_world()
    race = _double_taps(w)[name]
    db.session.commit()
    clients = [signed_in(app, w.users[race.who]) for _ in range(CLIENTS)]
    form = {**(form_of(clients[0], race.page, race.action.split("?")[0])
               if race.page else {}), **race.fields}
    answers = [None] * CLIENTS

    def post(i):
        response = clients[i].post(race.action, data=dict(form))
        answers[i] = response.status_code
        response.close()

    assert run_together(post, range(CLIENTS), timeout=120) == []
    db.session.remove()
    assert all(status is not None and status < 500 for status in answers), answers
    assert db.session.scalar(race.count) == 1, answers
