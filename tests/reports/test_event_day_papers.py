"""Paper for the event day, printed through the routes and read back: the sign-in sheet, the
seating chart, the table cards and the bus driver's pickup list; and the pickup points the
pickup list is grouped by (a point of another event is refused)."""
import io
import re
from dataclasses import dataclass
from datetime import time

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from models import door, events as ev
from models.audit import AuditEntry
from models.base import new_token
from tests.conftest import page_text
from tests.factories import make_customer, make_event, make_user


def pdf_pages(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages]


def flat(text):
    """Text with the spaces and line breaks WeasyPrint's layout puts between words removed."""
    return re.sub(r"\s+", "", text)


@dataclass
class Day:
    event: object
    liu: object
    zhang: object
    tables: list
    points: list
    guests: dict


@pytest.fixture
def day(shop, db):
    """春季养生讲座: 刘芳's 王大爷 (+2) and 李阿姨 (+1) at table 1 (贵宾, host 刘芳, 10 seats);
    张敏's 赵大妈 at table 2 (host 张敏, 8 seats) and 吴叔 (+1, a walk-in, no table yet); 张敏's
    孙老伯 is only invited and 周奶奶 declined. Pickup: 王大爷 at 小区门口 08:00, 赵大妈 at
    地铁站 08:30, 李阿姨 needs pickup with no point chosen."""
    manager, liu = shop.manager, shop.marketer
    zhang = make_user(["marketer"], display_name="张敏", department=shop.other_department,
                      phone="13722223333")
    event = make_event(manager, title="春季养生讲座")
    tables = [ev.save_table(event, number=1, seats=10, label="贵宾", host=liu, actor=manager),
              ev.save_table(event, number=2, seats=8, host=zhang, actor=manager)]
    guests = {}
    for owner, name, companions, status in (
            (liu, "王大爷", 2, "confirmed"), (liu, "李阿姨", 1, "confirmed"),
            (zhang, "赵大妈", 0, "confirmed"), (zhang, "孙老伯", 0, None),
            (zhang, "周奶奶", 0, "declined")):
        customer = shop.customer if name == "王大爷" else make_customer(owner, name=name)
        invitation = ev.invite(event, customer, actor=owner, companions=companions)
        if status:
            ev.change_invitation(invitation, status, actor=owner)
        guests[name] = invitation
    event_staff = make_user(["event_staff"], display_name="会务小周")
    ev.set_event_staff(event, [event_staff], actor=manager)
    guests["吴叔"] = door.register_walk_in(event, name="吴叔", phone="13655556666", owner=zhang,
                                         companions=1, actor=event_staff,
                                         token=new_token()).invitation
    guests["吴叔"].table = None  # the door seated him at 张敏's table; staff took him off it
    guests["王大爷"].table = guests["李阿姨"].table = tables[0]
    guests["赵大妈"].table = tables[1]
    points = [ev.add_pickup_point(event, name="小区门口", pickup_time=time(8, 0), actor=manager),
              ev.add_pickup_point(event, name="地铁站", pickup_time=time(8, 30), actor=manager)]
    ev.set_pickup(guests["王大爷"], needs_pickup=True, point=points[0], actor=liu)
    ev.set_pickup(guests["赵大妈"], needs_pickup=False, point=points[1], actor=zhang)
    ev.set_pickup(guests["李阿姨"], needs_pickup=True, actor=liu)
    db.session.flush()
    return Day(event=event, liu=liu, zhang=zhang, tables=tables, points=points, guests=guests)


def test_sign_in_sheet_by_marketer_lists_the_guests_with_masked_phones(day, shop, client,
                                                                       login):
    login(shop.manager)
    text = flat("\n".join(pdf_pages(client.get(
        f"/events/{day.event.id}/sign-in-sheet.pdf?by=marketer"))))
    assert "签到表·春季养生讲座" in text and "签名" in text and "会销通示范公司" in text
    for name in ("王大爷", "李阿姨", "赵大妈", "吴叔"):
        assert name in text
    assert "孙老伯" not in text and "周奶奶" not in text      # invited only, declined
    assert shop.customer.phone[-4:] in text and shop.customer.phone[3:7] not in text  # masked
    assert "临时到场" in text                                 # the walk-in is marked
    # Per marketer: guests, companions, people; then the total (4 guests, 4 companions).
    assert "刘芳235" in text and "张敏213" in text and "合计448" in text
    assert "1号桌贵宾" in text                                # the table, beside the name


def test_sign_in_sheet_by_table_puts_25_rows_on_a_page_with_the_header_on_each(
        day, shop, client, login, db):
    for n in range(22):  # 4 guests + 22 = 26 rows: two pages (the door is open: no inviting)
        customer = make_customer(day.liu, name=f"客{n:02d}")
        db.session.add(ev.Invitation(event_id=day.event.id, customer_id=customer.id,
                                     inviter_id=day.liu.id, status="confirmed"))
    db.session.flush()
    login(shop.manager)
    pages = [flat(page) for page in pdf_pages(client.get(
        f"/events/{day.event.id}/sign-in-sheet.pdf?by=table"))]
    assert len(pages) == 2
    assert all("序号" in page and "签名" in page for page in pages)  # the header repeats
    rows = [re.findall(r"客\d\d|王大爷|李阿姨|赵大妈|吴叔", page) for page in pages]
    assert [len(r) for r in rows] == [25, 1]
    # By table: table 1, table 2, then the guests without a table (吴叔 and the 22).
    assert pages[0].index("1号桌贵宾") < pages[0].index("2号桌") < pages[0].index("未安排桌位")
    assert "未安排桌位" in pages[1]                          # the group named again on page 2
    assert "合计26" in pages[1]


def test_sign_in_sheet_shows_a_marketer_only_their_customers_and_the_door_everyone(
        day, shop, client, login):
    login(day.zhang)
    text = flat("".join(pdf_pages(client.get(f"/events/{day.event.id}/sign-in-sheet.pdf"))))
    assert "赵大妈" in text and "吴叔" in text and "王大爷" not in text
    client.post("/auth/logout")
    login(day.event.staff[0])
    text = flat("".join(pdf_pages(client.get(f"/events/{day.event.id}/sign-in-sheet.pdf"))))
    assert all(name in text for name in ("王大爷", "李阿姨", "赵大妈", "吴叔"))


def test_seating_chart_shows_every_table_with_its_host_guests_and_seats_used(
        day, shop, client, login):
    login(shop.manager)
    pages = pdf_pages(client.get(f"/events/{day.event.id}/seating-chart.pdf"))
    assert len(pages) == 1
    text = flat(pages[0])
    assert "座位表·春季养生讲座" in text
    assert "1号桌贵宾5/10" in text and "负责人：刘芳" in text    # 王大爷+2, 李阿姨+1
    assert "2号桌1/8" in text and "负责人：张敏" in text
    assert "王大爷+2" in text and "李阿姨+1" in text and "赵大妈" in text
    assert "未安排桌位（2人）" in text and "吴叔+1(张敏)" in text
    assert "已用6/18个座位" in text                          # seated at the tables
    # A marketer sees their own guests by name, the others counted in the seats used.
    client.post("/auth/logout")
    login(day.zhang)
    text = flat(pdf_pages(client.get(f"/events/{day.event.id}/seating-chart.pdf"))[0])
    assert "1号桌贵宾5/10" in text and "王大爷" not in text
    assert "另有2位其他业务员的顾客" in text


@pytest.mark.parametrize("size, per_card", [("a4", 2), ("a5", 1)])
def test_table_cards_one_per_table_with_the_host(day, shop, client, login, size, per_card):
    login(day.event.staff[0])  # event staff print them too
    pages = [flat(page) for page in pdf_pages(client.get(
        f"/events/{day.event.id}/table-cards.pdf?size={size}"))]
    assert len(pages) == 2                                   # one card per table
    assert pages[0].count("1号桌") == per_card and pages[0].count("负责人：刘芳") == per_card
    assert "贵宾" in pages[0] and "负责人：张敏" in pages[1] and "2号桌" in pages[1]


def test_table_cards_of_an_event_without_tables_are_refused(shop, client, login):
    event = make_event(shop.manager, title="无桌讲座")
    login(shop.manager)
    response = client.get(f"/events/{event.id}/table-cards.pdf")
    assert response.status_code == 404 and "还没有桌位" in page_text(response)
    response = client.get(f"/events/{event.id}/table-cards.pdf?size=a3")
    assert response.status_code == 422 and "打印版式" in page_text(response)


def test_pickup_list_groups_guests_by_point_and_time_with_the_marketers_phone(
        day, shop, client, login):
    login(shop.manager)
    text = flat("".join(pdf_pages(client.get(f"/events/{day.event.id}/pickup-list.pdf"))))
    assert "接送名单·春季养生讲座" in text
    assert "3位顾客，共6人" in text                           # 王大爷+2, 赵大妈, 李阿姨+1
    first, second, undecided = (text.index(s) for s in ("08:00小区门口", "08:30地铁站",
                                                        "未定接送点"))
    assert first < second < undecided
    assert "1位顾客，共3人" in text[first:second] and "王大爷" in text[first:second]
    assert "刘芳13911112222" in text[first:second]            # the marketer to call
    assert "赵大妈" in text[second:undecided] and "张敏13722223333" in text[second:undecided]
    assert "李阿姨" in text[undecided:] and "吴叔" not in text


def test_planner_adds_and_removes_pickup_points(day, shop, client, login, db):
    login(shop.manager)
    response = client.post(f"/events/{day.event.id}/pickup-points", data={
        "pickup-name": "人民公园", "pickup-pickup_time": "07:45"})
    assert response.status_code == 302
    page = page_text(client.get(response.location))
    assert "已添加接送点 人民公园 07:45" in page
    again = client.post(f"/events/{day.event.id}/pickup-points", data={
        "pickup-name": "人民公园", "pickup-pickup_time": "07:45"})
    assert again.status_code == 409 and "已经是本场的接送点" in page_text(again)
    response = client.post(f"/events/{day.event.id}/pickup-points/{day.points[0].id}/remove")
    assert "还有 1 位顾客需要另选接送点" in page_text(client.get(response.location))
    db.session.refresh(day.guests["王大爷"])
    assert day.guests["王大爷"].needs_pickup and day.guests["王大爷"].pickup_point_id is None
    client.post("/auth/logout")
    login(day.liu)
    assert client.post(f"/events/{day.event.id}/pickup-points", data={
        "pickup-name": "车站", "pickup-pickup_time": "07:00"}).status_code == 403


def test_marketer_sets_a_guests_pickup_point_but_not_one_of_another_event(
        day, shop, client, login, db):
    other = make_event(shop.manager, title="别的讲座")
    foreign = ev.add_pickup_point(other, name="火车站", pickup_time=time(7, 0),
                                  actor=shop.manager)
    db.session.flush()
    guest = day.guests["李阿姨"]
    login(day.liu)
    response = client.post(f"/events/invitations/{guest.id}/pickup",
                           data={"needs_pickup": "y", "pickup_point_id": str(day.points[1].id)})
    assert "李阿姨：在 地铁站 08:30 上车" in page_text(client.get(response.location))
    assert guest.pickup_point_id == day.points[1].id
    audits = db.session.scalar(select(func.count(AuditEntry.id)))
    response = client.post(f"/events/invitations/{guest.id}/pickup",
                           data={"needs_pickup": "y", "pickup_point_id": str(foreign.id)})
    assert response.status_code == 302
    assert "这个接送点属于另一场会议" in page_text(client.get(response.location))
    db.session.refresh(guest)
    assert guest.pickup_point_id == day.points[1].id          # nothing written
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audits
    response = client.post(f"/events/invitations/{guest.id}/pickup", data={})
    db.session.refresh(guest)
    assert not guest.needs_pickup and guest.pickup_point_id is None


def test_event_page_links_the_papers_for_everyone_who_sees_it(day, shop, client, login):
    login(day.event.staff[0])
    html = client.get(f"/events/{day.event.id}").get_data(as_text=True)
    for path in ("sign-in-sheet.pdf?by=marketer", "sign-in-sheet.pdf?by=table",
                 "seating-chart.pdf", "table-cards.pdf?size=a4", "table-cards.pdf?size=a5",
                 "pickup-list.pdf"):
        assert f"/events/{day.event.id}/{path}" in html
