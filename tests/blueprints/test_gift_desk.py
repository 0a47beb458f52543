"""The gift desk over HTTP: who may open it (event staff only at their own events), the arrived
guests owed their gift first, one tap to give (the row moves, the stock drops), a gift given
twice from two screens at once, and bad input answered in Chinese with nothing written."""
import re

import pytest
from sqlalchemy import func, select

from extensions import db as _db
from formatting import masked_phone
from models import checkin as ci, door, events as ev, gifts as g, inventory as inv
from models.accounts import User
from models.base import new_token
from models.customers import Customer
from models.ledgers import check_ledgers
from tests.conftest import Client, page_text
from tests.factories import PASSWORD, make_customer, make_event, make_user, make_venue
from tests.races import race


def build_venue():
    """tests.factories.make_venue with the rule: a cup for every arrival and one more per
    companion who came."""
    v = make_venue()
    g.save_rule(None, event=v["event"], kind="attendance", product=v["cup"], quantity=1,
                companion_quantity=1, actor=v["manager"])
    return v


@pytest.fixture
def venue(db):
    return build_venue()


def invite(v, customer):
    """Invite as if the day before: the first arrival started the event."""
    event = v["event"]
    status, event.status = event.status, "open"
    invitation = ev.invite(event, customer, actor=v["marketer"])
    event.status = status
    return invitation


def arrive(v, name, companions=0, phone=None):
    customer = make_customer(v["marketer"], name=name, phone=phone)
    invitation = invite(v, customer)
    ci.check_in(v["event"], invitation, actor=v["staff"], token=new_token(),
                companions=companions)
    return customer


def walk_in(v, name, companions=0):
    door.register_walk_in(v["event"], name=name, phone="13712345678", actor=v["staff"],
                          token=new_token(), owner=v["marketer"], companions=companions)
    return _db.session.scalar(select(Customer).where(Customer.name == name))


def sections(html):
    """The text of the desk's two lists: (到场未领, 已发放)."""
    start, middle = html.index('data-testid="desk-to-give"'), html.index('data-testid="desk-given"')
    return tuple(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", part))
                 for part in (html[start:middle], html[middle:]))


def gifts_count(kind="attendance"):
    return _db.session.scalar(select(func.count(g.GiftIssue.id)).where(
        g.GiftIssue.kind == kind))


def cups_left(v):
    return inv.quantity_in(inv.location_of(v["warehouse"]), v["cup"])


def give(client, v, customer, token=None, htmx=True):
    return client.post(f"/gifts/events/{v['event'].id}/desk",
                       data={"customer_id": str(customer.id), "token": token or new_token()},
                       headers={"HX-Request": "true"} if htmx else {})


def test_the_warehouse_staff_managers_and_admins_open_it_other_staff_get_404(client, login,
                                                                           venue):
    url = f"/gifts/events/{venue['event'].id}/desk"
    for who in (venue["clerk"], venue["staff"], venue["manager"], make_user(["admin"])):
        login(who)
        assert client.get(url).status_code == 200, who.roles
        client.post("/auth/logout")
    elsewhere = make_user(["event_staff"])
    ev.set_event_staff(make_event(venue["manager"], title="别的场次"), [elsewhere],
                       actor=venue["manager"])
    login(elsewhere)
    assert client.get(url).status_code == 404
    assert give(client, venue, arrive(venue, "王大爷")).status_code == 404
    assert gifts_count() == 0
    for role in ("marketer", "finance", "dept_head"):
        client.post("/auth/logout")
        login(role)
        assert client.get(url).status_code == 403


def test_arrivals_owed_first_then_those_given_with_counts_and_stock(client, login, venue):
    wang = arrive(venue, "王大爷", companions=2)
    arrive(venue, "李建国")
    g.issue_attendance_gifts(venue["event"], _db.session.scalar(
        select(Customer).where(Customer.name == "李建国")), actor=venue["staff"],
        token=new_token())
    walk_in(venue, "临时来宾")
    invite(venue, make_customer(venue["marketer"], name="没来的"))
    login(venue["clerk"])
    response = client.get(f"/gifts/events/{venue['event'].id}/desk")
    html = response.get_data(as_text=True)
    waiting, given = sections(html)
    assert "王大爷" in waiting and "临时来宾" in waiting and "李建国" not in waiting
    assert "到场礼：养生杯 × 1 · 陪同礼：养生杯 × 2" in waiting  # one per companion
    assert "李建国" in given and "✓ 到场礼：养生杯 × 1" in given and "赵敏" in given
    assert "没来的" not in html  # not arrived: not at the desk
    text = page_text(response)
    assert "到场未领 2" in text and "已发放 1" in text
    assert "会场物料 的赠品库存 养生杯 20 盒" in text
    assert html.count('data-testid="desk-give"') == 2
    assert masked_phone(wang.phone) in text and wang.phone[-11:] not in html


def test_the_search_box_finds_by_name_phone_tail_and_initials(client, login, venue):
    arrive(venue, "王大爷", phone="13911112222")
    arrive(venue, "李建国", phone="13933334444")
    login(venue["staff"])
    url = f"/gifts/events/{venue['event'].id}/desk"
    for q in ("wdy", "2222", "王大"):
        found = page_text(client.get(url, query_string={"q": q}, headers={"HX-Request": "true"}))
        assert "王大爷" in found and "李建国" not in found, q
    nobody = client.get(url, query_string={"q": "zzz"}, headers={"HX-Request": "true"})
    assert "没有到场顾客符合“zzz”" in page_text(nobody)


def test_one_tap_gives_a_walk_in_and_companions_and_the_row_moves(client, login, venue):
    guest = walk_in(venue, "临时来宾", companions=2)
    login(venue["clerk"])
    tap = give(client, venue, guest)
    assert tap.status_code == 200
    html = tap.get_data(as_text=True)
    assert 'hx-swap-oob="afterbegin:#desk-given"' in html  # the row moves to the given list
    assert 'data-testid="desk-give"' not in html and 'data-testid="desk-message"' not in html
    text = page_text(tap)
    assert "✓ 到场礼：养生杯 × 1" in text and "✓ 陪同礼：养生杯 × 2" in text
    assert "养生杯 18 盒" in text and cups_left(venue) == 18
    assert re.search(r'id="desk-to-give-count"[^>]*hx-swap-oob="true">0<', html)
    assert re.search(r'id="desk-given-count"[^>]*hx-swap-oob="true">1<', html)
    issues = _db.session.scalars(select(g.GiftIssue).order_by(g.GiftIssue.id)).all()
    assert [(i.kind, i.quantity, i.staff_id) for i in issues] == [
        ("attendance", 1, venue["clerk"].id), ("companion", 2, venue["clerk"].id)]
    plain = give(client, venue, arrive(venue, "王大爷"), htmx=False)  # without htmx
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/desk")
    assert "已发放赠品。" in page_text(client.get(plain.headers["Location"]))
    assert check_ledgers()["gifts"] == [] and check_ledgers()["stock"] == []


def test_a_second_screen_is_told_the_gift_was_given_and_nothing_doubles(client, login, venue):
    guest = arrive(venue, "王大爷", companions=1)
    login(venue["clerk"])
    mine = new_token()
    assert give(client, venue, guest, token=mine).status_code == 200
    again = give(client, venue, guest, token=mine)  # the same form again: its own result
    assert again.status_code == 200 and 'data-testid="desk-message"' not in again.get_data(
        as_text=True)
    client.post("/auth/logout")
    login(venue["staff"])
    other = give(client, venue, guest)  # another screen, drawn before the first tap
    assert other.status_code == 200
    text = page_text(other)
    assert re.search(r"王大爷 已于 \d\d:\d\d 由 钱库管 发放过到场礼", text), text
    assert 'hx-swap-oob="afterbegin:#desk-given"' in other.get_data(as_text=True)
    assert gifts_count() == 1 and gifts_count("companion") == 1 and cups_left(venue) == 19
    plain = give(client, venue, guest, htmx=False)
    assert "王大爷 已于" in page_text(client.get(plain.headers["Location"]))


def test_bad_input_gets_a_clear_message_and_writes_nothing(client, login, venue):
    login(venue["clerk"])
    url = f"/gifts/events/{venue['event'].id}/desk"
    hx = {"HX-Request": "true"}
    late = make_customer(venue["marketer"], name="李建国")
    invite(venue, late)
    stranger = make_customer(venue["marketer"], name="路人甲")
    cases = {"abc": "请从名单中选择顾客", "0": "请从名单中选择顾客",
             "99999999999999": "请从名单中选择顾客",
             str(stranger.id): "该顾客不在本场名单中", str(late.id): "李建国 还没有在本场签到"}
    for customer_id, message in cases.items():
        answer = client.post(url, data={"customer_id": customer_id, "token": new_token()},
                             headers=hx)
        assert answer.status_code == 200 and message in page_text(answer), customer_id
        assert "路人甲" not in page_text(answer)
    guest = arrive(venue, "王大爷")
    expired = client.post(url, data={"customer_id": str(guest.id), "token": "x" * 400},
                          headers=hx)
    assert "表单已过期" in page_text(expired) and 'data-testid="desk-give"' in \
        expired.get_data(as_text=True)  # the row stays, with its button
    assert client.post(url, data={"customer_id": str(guest.id)}, headers=hx,
                       csrf=False).status_code == 400  # an expired page: the CSRF check
    assert client.post(f"/gifts/events/{2**40}/desk", data={"customer_id": str(guest.id),
                                                            "token": new_token()}).status_code \
        == 404
    assert gifts_count() == 0 and cups_left(venue) == 21


def test_too_little_stock_is_said_on_the_row(client, login, venue):
    guest = arrive(venue, "王大爷", companions=4)
    login(venue["clerk"])
    rule = _db.session.scalar(select(g.GiftRule))
    rule.companion_quantity = 5  # 1 + 5 × 4 = 21 cups: there are 21, then 20
    _db.session.flush()
    assert "✓ 陪同礼：养生杯 × 20" in page_text(give(client, venue, guest))
    guest = arrive(venue, "李建国")
    answer = give(client, venue, guest)
    assert "仅有 0 盒" in page_text(answer) and 'data-testid="desk-give"' in answer.get_data(
        as_text=True)
    assert gifts_count() == 1 and cups_left(venue) == 0


def test_four_screens_give_the_same_guest_at_once_one_gift(app, committed_db):
    v = build_venue()
    guest = arrive(v, "王大爷", companions=2)
    _db.session.commit()
    screens = (v["clerk"], v["staff"], v["manager"], make_user(["warehouse"]))
    _db.session.commit()
    users, event_id, guest_id = [user.id for user in screens], v["event"].id, guest.id
    clients = {}
    for user_id in users:
        app.test_client_class = Client
        clients[user_id] = app.test_client()
        login = clients[user_id].post("/auth/login", data={
            "username": _db.session.get(User, user_id).username, "password": PASSWORD})
        assert login.status_code == 302
    answers = {}

    def screen(user_id):
        response = clients[user_id].post(
            f"/gifts/events/{event_id}/desk", headers={"HX-Request": "true"},
            data={"customer_id": str(guest_id), "token": new_token()})
        answers[user_id] = (response.status_code, page_text(response))

    assert race(screen, users, timeout=60) == []
    _db.session.remove()
    assert sorted(status for status, _text in answers.values()) == [200] * 4
    told = [text for _status, text in answers.values() if "王大爷 已于" in text]
    assert len(told) == 3, answers  # one screen gave it; the three others are told so
    assert all("✓ 到场礼：养生杯 × 1" in text for _status, text in answers.values())
    assert gifts_count() == 1 and gifts_count("companion") == 1
    assert _db.session.scalar(select(func.sum(g.GiftIssue.quantity))) == 3
    assert check_ledgers()["gifts"] == [] and check_ledgers()["stock"] == []
