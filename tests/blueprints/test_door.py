"""The door tablet's queue over HTTP: a write sent again is written once, a token reused for
something else, a closed event and another event's card are refused with nothing written, and
two tablets that checked the same guest in offline end with one check-in, one gift and the
conflicts listed for staff."""
import re

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import checkin as ci, door as dr, events as ev, gifts as g, inventory as inv
from models.base import new_token
from tests.conftest import page_text
from tests.factories import make_customer, make_event, make_user, make_venue


@pytest.fixture
def door(db):
    v = make_venue(cups=10)
    event, manager, staff, marketer, cup = (v["event"], v["manager"], v["staff"],
                                            v["marketer"], v["cup"])
    g.save_rule(None, event=event, kind="attendance", product=cup, quantity=1, actor=manager)
    table = ev.save_table(event, number=5, seats=10, actor=manager)
    invitation = ev.invite(event, make_customer(marketer, name="张秀兰", phone="13800138000"),
                           actor=marketer)
    invitation.table = table
    db.session.flush()
    return event, invitation, manager, staff, marketer, cup


def send(client, event, **fields):
    data = {"kind": "check_in", "token": new_token(), "queued_ms": "1764050000000",
            "device": "T-AB12", **fields}
    response = client.post(f"/checkin/{event.id}/queue", data=data,
                           headers={"Accept": "application/json"})
    return response, response.get_json()


def counts(event):
    check_ins = _db.session.scalar(select(func.count(ci.CheckIn.id)).where(
        ci.CheckIn.event_id == event.id))
    gifts = _db.session.scalar(select(func.count(g.GiftIssue.id)).where(
        g.GiftIssue.event_id == event.id))
    conflicts = _db.session.scalar(select(func.count(dr.DoorConflict.id)).where(
        dr.DoorConflict.event_id == event.id))
    return check_ins, gifts, conflicts


def test_the_roster_holds_masked_phones_and_card_codes_only_while_the_door_is_open(
        client, login, door, db):
    event, invitation, manager, staff, _m, _cup = door
    login(staff)
    body = client.get(f"/checkin/{event.id}/roster").get_json()
    [guest] = body["guests"]
    assert guest["name"] == "张秀兰" and guest["phone"] == "138****8000"
    assert guest["phone2"] == "" and guest["customer_id"] == invitation.customer_id
    assert guest["code"] == invitation.token and guest["initials"] == "zxl"
    assert body["tables"] == [{"id": guest["table_id"], "name": "5 号桌", "seats": 10}]
    assert body["people"][str(guest["inviter_id"])] == "刘芳" and guest["checked_in"] is None
    assert body["statuses"][guest["status"]] == "已邀约"
    assert "13800138000" not in client.get(f"/checkin/{event.id}/roster").get_data(as_text=True)
    assert body["gift"]["product"] == "养生杯" and body["gift"]["left"] == 10 and body["csrf"]
    ev.change_event_status(event, "in_progress", actor=manager)
    ev.change_event_status(event, "closed", actor=manager)
    closed = client.get(f"/checkin/{event.id}/roster").get_json()
    assert closed["event"]["open"] is False and closed["guests"] == []


def test_a_write_sent_again_is_written_once(client, login, door, db):
    event, invitation, _mgr, staff, _m, _cup = door
    login(staff)
    token = new_token()
    first, body = send(client, event, invitation_id=invitation.id, token=token, companions=1)
    assert first.status_code == 200 and body["ok"]
    assert body["check_in"]["name"] == "张秀兰" and body["check_in"]["table"] == "5 号桌"
    assert body["gift"] == {"product": "养生杯", "quantity": 1, "left": 10, "low": True,
                            "invited_only": False, "issued": False}
    # The answer was lost (a timeout): the tablet sends the same write again, queued now.
    again, body = send(client, event, invitation_id=invitation.id, token=token, companions=1,
                       queued="y")
    assert again.status_code == 200 and body["ok"] and body["conflict"] is None
    gift_token = new_token()
    for _ in range(2):
        response, body = send(client, event, kind="gift", invitation_id=invitation.id,
                              token=gift_token, queued="y")
        assert response.status_code == 200 and body["gift"]["issued"] and body["gift"]["left"] == 9
    assert counts(event) == (1, 1, 0)


def test_a_token_reused_with_different_content_writes_nothing(client, login, door, db):
    event, invitation, _mgr, staff, marketer, _cup = door
    other = ev.invite(event, make_customer(marketer, name="李桂芳"), actor=marketer)
    login(staff)
    token = new_token()
    send(client, event, invitation_id=invitation.id, token=token, companions=0)
    for fields in ({"invitation_id": other.id, "companions": 0},  # another guest
                   {"invitation_id": invitation.id, "companions": 2},  # other companions
                   {"kind": "gift", "invitation_id": invitation.id}):  # a gift
        response, body = send(client, event, token=token, queued="y", **fields)
        assert response.status_code == 409 and not body["ok"]
        assert "一次性令牌已被另一笔记录使用" in body["message"]
        assert body["conflict"]["reason"] == "令牌被用于另一笔记录"
    assert counts(event) == (1, 0, 1)  # one conflict per token, however often it is sent
    assert ci.check_in_of(other) is None


def test_a_closed_event_and_another_events_card_are_refused(client, login, door, db):
    event, invitation, manager, staff, marketer, _cup = door
    elsewhere = make_event(manager, title="别的场次")
    ev.set_event_staff(elsewhere, [staff], actor=manager)
    card = ev.invite(elsewhere, make_customer(marketer, name="王建华"), actor=marketer).token
    login(staff)
    response, body = send(client, event, code=card, queued="y")
    assert response.status_code == 404 and body["message"] == "这张邀请函不属于本场会议，或已失效。"
    assert body["conflict"]["reason"] == "非本场邀请卡"
    live, body = send(client, event, code=card)  # at once, staff see the answer: no conflict
    assert live.status_code == 404 and body["conflict"] is None
    ev.change_event_status(event, "in_progress", actor=manager)
    ev.change_event_status(event, "closed", actor=manager)
    for kind in ("check_in", "gift"):
        response, body = send(client, event, kind=kind, invitation_id=invitation.id,
                              queued="y")
        assert response.status_code == 409 and "会议已结束" in body["conflict"]["reason"]
    assert counts(event) == (0, 0, 3)
    bad, body = send(client, event, invitation_id=invitation.id, token="not-a-token")
    assert bad.status_code == 422 and "表单已过期" in body["message"]
    assert counts(event) == (0, 0, 3)


def test_two_offline_tablets_end_with_one_check_in_one_gift_and_the_conflicts_listed(
        client, login, door, db):
    event, invitation, manager, staff, _m, cup = door
    login(staff)
    tablet_a = [("check_in", new_token()), ("gift", new_token())]
    tablet_b = [("check_in", new_token()), ("gift", new_token())]
    for kind, token in tablet_a + tablet_b:  # A comes back online first, then B
        response, body = send(client, event, kind=kind, token=token,
                              invitation_id=invitation.id, queued="y", device="T-B")
    assert response.status_code == 409 and body["check_in"]["name"] == "张秀兰"
    assert counts(event) == (1, 1, 2)
    assert inv.quantity_in(inv.location_of(g.event_warehouse(event)), cup) == 9
    for kind, token in tablet_b:  # B sends again (its answers were lost): still two
        send(client, event, kind=kind, token=token, invitation_id=invitation.id, queued="y")
    assert counts(event) == (1, 1, 2)
    listed = client.get(f"/checkin/{event.id}/conflicts").get_json()["conflicts"]
    assert [c["reason"] for c in listed] == ["已在另一台平板办理"] * 2
    assert {c["kind"] for c in listed} == {"签到", "到场礼"}
    assert "张秀兰 已于" in " ".join(c["message"] for c in listed)
    client.post("/auth/logout")
    login(manager)
    text = page_text(client.get(f"/events/{event.id}"))
    assert "签到冲突" in text and "已在另一台平板办理" in text and "T-B" in text
    client.post("/auth/logout")
    login(make_user(["marketer"]))  # another marketer's guest: not theirs to see
    text = page_text(client.get(f"/events/{event.id}"))
    assert "签到冲突" not in text and "张秀兰" not in text


def test_the_door_screen_passes_its_data_in_attributes_not_inline_scripts(client, login, door,
                                                                          db):
    event, _inv, manager, staff, _m, _cup = door
    login(staff)
    html = client.get(f"/checkin/{event.id}").get_data(as_text=True)
    assert "<script>" not in html and "data-urls=" in html
    assert '<script type="module" src="/static/js/door/main.js">' in html
    # Every module main.js imports, near or far, is named for the service worker to keep, and
    # served as a script (a browser runs a module only with a JavaScript type).
    modules, waiting = set(), ["/static/js/door/main.js"]
    while waiting:
        path = waiting.pop()
        response = client.get(path)
        assert response.status_code == 200 and "javascript" in response.mimetype
        for name in re.findall(r'from "\./(\w+\.js)"', response.get_data(as_text=True)):
            if f"/static/js/door/{name}" not in modules:
                modules.add(f"/static/js/door/{name}")
                waiting.append(f"/static/js/door/{name}")
        response.close()
    assert set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', html)) == modules
    worker = client.get("/checkin/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "/orders/new/" not in html  # event staff take no orders
    client.post("/auth/logout")
    login(manager)  # a seller gets the deal link, prefilled for the guest and event
    html = client.get(f"/checkin/{event.id}").get_data(as_text=True)
    assert f"/orders/new/0?event_id={event.id}" in html


def test_a_check_in_through_the_queue_costs_few_statements(client, login, door, db):
    """The tablets' path is the door's busiest: each check-in is a handful of statements (the
    token, the event with the invitation and the gift rule, the check-in, the gift line)."""
    from sqlalchemy import event as sa_event
    event, invitation, _mgr, staff, _m, _cup = door
    login(staff)
    client.get(f"/checkin/{event.id}/roster")  # warm: the user, the session
    seen = []

    def saw(_conn, _cursor, statement, *_args):
        seen.append(statement[:150].replace("\n", " "))
        whole.append(statement)
    whole = []
    sa_event.listen(_db.engine, "before_cursor_execute", saw)
    try:
        response, body = send(client, event, invitation_id=invitation.id, companions=1)
    finally:
        sa_event.remove(_db.engine, "before_cursor_execute", saw)
    assert response.status_code == 200 and body["ok"] and body["gift"]["left"] == 10
    assert body["check_in"]["table"] == "5 号桌" and body["gift"]["issued"] is False
    # one query for the event, the guest, the table, the gift rule and whether the token was
    # used; one for the gifts left; no row loaded by its token, no rule, warehouse or table
    # read apart, the token not looked up on its own, the unchanged settings not read again
    loads = ("SELECT check_ins.id", "SELECT gift_issues.id", "SELECT door_conflicts.id",
             "SELECT invitations.id", "SELECT gift_rules.id", "SELECT warehouses.id",
             "SELECT stock_locations.id", "SELECT event_tables.id", "SELECT settings.")
    request = seen[seen.index(next(s for s in seen if s.startswith("SELECT users."))):]
    token_alone = [s for s in request if "UNION ALL" in s and not s.startswith("SELECT events.")]
    assert [s for s in request if s.startswith(loads)] == [] and token_alone == []
    # the gift rule comes as the tablet shows it (product name, quantity, for whom), not whole,
    # and none of its other columns is read apart afterwards
    door_row = next(s for s in whole if s.startswith("SELECT events.") and "gift_rules" in s)
    assert "gift_rules.quantity" in door_row and "products_1.name" in door_row
    assert "gift_rules.condition" not in door_row and "products_1.sale_price" not in door_row
    assert [s for s in request if s.startswith(("SELECT gift_rules.", "SELECT products."))] == []
    # the event and the invitation come with the columns a tap reads (door.DOOR_LOADING), not
    # the event's blurb or who overrode a seat, and nothing of them is read apart afterwards
    assert "events.status" in door_row and "invitations.companions" in door_row
    assert "events.featured" not in door_row and "invitations.override_reason" not in door_row
    assert len([s for s in request if s.startswith(("SELECT events.", "SELECT invitations."))]) \
        == 1  # the door row itself
    # On SQLite one more: the customer's 最近跟进 moved by primary key (about 50 µs; part of the
    # check-in's one statement on PostgreSQL).
    assert len(request) <= (14 if _db.engine.dialect.name == "sqlite" else 13), request


def test_a_lecture_without_tables_seats_an_arrival_without_reading_tables(
        client, login, db):
    """A lecture with no seating plan: the guest who comes without a table is checked in
    without a query for the event's tables, and gets none."""
    from sqlalchemy import event as sa_event
    v = make_venue(cups=10)
    event, staff = v["event"], v["staff"]
    invitation = ev.invite(event, make_customer(v["marketer"], name="王建国",
                                                phone="13900139000"), actor=v["marketer"])
    db.session.commit()
    login(staff)
    client.get(f"/checkin/{event.id}/roster")
    seen = []

    def saw(_conn, _cursor, statement, *_args):
        seen.append(statement)
    sa_event.listen(_db.engine, "before_cursor_execute", saw)
    try:
        response, body = send(client, event, invitation_id=invitation.id)
    finally:
        sa_event.remove(_db.engine, "before_cursor_execute", saw)
    assert response.status_code == 200 and body["ok"], body
    assert body["check_in"]["name"] == "王建国" and body["check_in"]["table"] == ""
    assert [s for s in seen if "FROM event_tables" in s and "EXISTS" not in s] == []
    assert counts(event)[0] == 1


def test_a_queued_write_without_its_csrf_token_is_refused_and_writes_nothing(
        client, login, door, db):
    """The queue's form leaves the CSRF check to CSRFProtect (checked once): a write that
    does not carry the page's token is still refused, with nothing written."""
    event, invitation, _mgr, staff, _m, _cup = door
    login(staff)
    for token in (None, "伪造的令牌"):
        data = {"kind": "check_in", "token": new_token(), "invitation_id": invitation.id}
        if token is not None:
            data["csrf_token"] = token
        response = client.post(f"/checkin/{event.id}/queue", data=data, csrf=False,
                               headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.get_json()["error"] == "表单已过期或不是从本系统提交的，请刷新页面后重试。"
    assert counts(event) == (0, 0, 0)


def test_an_arrival_without_a_table_is_seated_when_the_event_has_tables(client, login, db):
    """The door row says whether the event has tables: where it has, a guest who arrives
    without one (never confirmed) is given a table with room, through the queue as at the
    scan box."""
    v = make_venue(cups=10)
    event, staff, marketer = v["event"], v["staff"], v["marketer"]
    ev.save_table(event, number=3, seats=8, actor=v["manager"])
    guests = [ev.invite(event, make_customer(marketer, name=name, phone=phone), actor=marketer)
              for name, phone in (("李桂英", "13700137000"), ("周建华", "13600136000"))]
    db.session.commit()
    assert [g.table_id for g in guests] == [None, None]
    login(staff)
    response, body = send(client, event, invitation_id=guests[0].id)
    assert response.status_code == 200 and body["ok"], body
    assert body["check_in"]["name"] == "李桂英" and body["check_in"]["table"] == "3 号桌"
    response = client.post(f"/checkin/{event.id}/scan", data={
        "code": guests[1].token, "token": new_token()}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "3 号桌" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {g.table.number for g in guests} == {3}
