"""Events over HTTP: plan, cost, invite one and many, confirm, print cards whose QR decodes."""
import io
import subprocess

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from models import events as ev
from tests.conftest import page_text
from tests.factories import make_customer, make_event, make_user


def test_manager_plans_an_event_with_costs_and_tables(db, client, login):
    login("manager")
    response = client.post("/events/new", data={
        "title": "春季养生讲座", "kind": "lecture", "venue": "幸福酒店", "day": "2026-12-05",
        "start": "09:00", "end": "11:30", "capacity": "120", "department_id": "0"})
    assert response.status_code == 302
    event = db.session.scalar(select(ev.Event))
    assert event.starts_at.hour == 1  # 09:00 in Shanghai is 01:00 UTC
    response = client.post(f"/events/{event.id}/costs", data={
        "cost-kind": "venue", "cost-amount": "3000.50", "cost-note": "半天"})
    assert response.status_code == 302 and event.cost_fen == 300050
    response = client.post(f"/events/{event.id}/costs", data={
        "cost-kind": "venue", "cost-amount": "-5"})
    assert response.status_code == 422 and "金额必须大于零" in page_text(response)
    response = client.post(f"/events/{event.id}/tables", data={
        "table-number": "1", "table-seats": "0"})
    assert response.status_code == 422
    response = client.post(f"/events/{event.id}/status", data={"to": "closed"})
    assert "不能从“筹备中”改为“已结束”" in page_text(client.get(response.location))
    for bad in ("planning-x", "", "open" * 100):  # read through a form: a status from the list
        response = client.post(f"/events/{event.id}/status", data={"to": bad})
        assert response.status_code == 302 and event.status == "planning"
        assert "请从列表中选择" in page_text(client.get(response.location)), bad
    client.post(f"/events/{event.id}/status", data={"to": "open"})
    assert event.status == "open"
    page = page_text(client.get(f"/events/{event.id}"))
    assert "春季养生讲座" in page and "¥3,000.50" in page


def test_bad_event_times_are_refused(db, client, login):
    login("manager")
    response = client.post("/events/new", data={
        "title": "讲座", "kind": "lecture", "venue": "酒店", "day": "2026-12-05",
        "start": "11:00", "end": "09:00", "capacity": "10"})
    assert response.status_code == 422 and "结束时间必须晚于开始时间" in page_text(response)
    assert db.session.scalar(select(func.count(ev.Event.id))) == 0


def test_marketer_invites_from_the_customer_page_and_list(db, client, login):
    event = make_event(title="冬季讲座")
    me = login("marketer")
    customers = [make_customer(me, name=n) for n in ("张三", "李四", "王五")]
    response = client.post(f"/events/invite/{customers[0].id}", data={
        "event_id": str(event.id), "companions": "1"})
    assert response.status_code == 302
    assert "已邀约 张三 参加 冬季讲座" in page_text(client.get(response.location))
    again = client.post(f"/events/invite/{customers[0].id}", data={"event_id": str(event.id)})
    assert f"/events/{event.id}/invitations" in again.location
    response = client.post("/events/bulk-invite", data={
        "event_id": str(event.id), "ids": [str(x.id) for x in customers],
        "back": "/customers/?q=z"})
    assert response.location == "/customers/?q=z"
    assert "已邀约 2 位顾客" in page_text(client.get(response.location))
    listing = page_text(client.get(f"/events/{event.id}/invitations"))
    assert all(x.name in listing for x in customers)


def test_invitation_list_is_scoped_and_confirming_works(db, client, login):
    event = make_event()
    other = make_user(["marketer"])
    theirs = ev.invite(event, make_customer(other, name="别人的顾客"), actor=other)
    me = login("marketer")
    mine = ev.invite(event, make_customer(me, name="我的顾客"), actor=me)
    listing = page_text(client.get(f"/events/{event.id}/invitations"))
    assert "我的顾客" in listing and "别人的顾客" not in listing
    assert client.post(f"/events/invitations/{theirs.id}/status",
                       data={"status": "confirmed"}).status_code == 404
    response = client.post(f"/events/invitations/{mine.id}/status",
                           data={"status": "confirmed", "companions": "2"})
    assert response.status_code == 302
    assert mine.status == "confirmed" and mine.companions == 2
    assert client.get(f"/events/invitations/{theirs.id}/card.pdf").status_code == 404


def test_the_purchase_intent_heard_at_the_event_is_recorded_from_the_list(db, client, login):
    """A guest who came: one tap records 意向强烈 (with the event named); a guest who has not
    come yet, or an unknown intent, is refused and writes nothing; another marketer's guest is
    out of reach."""
    from models.base import new_token
    from models.checkin import check_in
    from models.customers import PurchaseIntent
    event = make_event(status="open", days=0)
    other = make_user(["marketer"])
    theirs = ev.invite(event, make_customer(other, name="别人的顾客"), actor=other)
    me = login("marketer")
    came = ev.invite(event, make_customer(me, name="到场客"), actor=me)
    coming = ev.invite(event, make_customer(me, name="未到客"), actor=me)
    ev.change_event_status(event, "in_progress", actor=make_user(["manager"]))
    check_in(event, came, actor=me, token=new_token())
    db.session.commit()
    listing = page_text(client.get(f"/events/{event.id}/invitations"))
    assert "意向 无 一般 强烈 已成交" in listing  # on the row of the guest who came only
    assert listing.count("已成交") == 1
    response = client.post(f"/events/invitations/{came.id}/intent", data={"intent": "strong"})
    assert response.status_code == 302
    assert "到场客：购买意向“强烈”。" in page_text(client.get(response.location))
    assert came.customer.intent == "strong"
    rows = db.session.scalars(select(PurchaseIntent).order_by(PurchaseIntent.id)).all()
    assert [(r.customer_id, r.source, r.event_id) for r in rows] == \
        [(came.customer_id, "event", event.id)]
    for invitation, data, said in ((coming, {"intent": "strong"}, "只能为已到场的来宾记录购买意向"),
                                   (came, {"intent": "很想买"}, "请选择购买意向")):
        response = client.post(f"/events/invitations/{invitation.id}/intent", data=data)
        assert response.status_code == 302
        assert said in page_text(client.get(response.location))
    assert db.session.scalar(select(func.count(PurchaseIntent.id))) == 1
    assert not coming.customer.intent and came.customer.intent == "strong"
    assert client.post(f"/events/invitations/{theirs.id}/intent",
                       data={"intent": "strong"}).status_code == 404


def pdf_text(data):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def decode_qr_codes(pdf_bytes, tmp_path):
    """Render the PDF's first page to PNG (pdftoppm) and decode every QR code on it."""
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image
    (tmp_path / "cards.pdf").write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1",
                    str(tmp_path / "cards.pdf"), str(tmp_path / "page")], check=True)
    image = Image.open(next(tmp_path.glob("page*.png")))
    return {result.text for result in zxingcpp.read_barcodes(image)}


@pytest.mark.parametrize("layout", ["a4", "a6"])
def test_card_pdf_holds_the_name_and_a_qr_of_the_token(db, client, login, tmp_path, layout):
    event = make_event(title="金秋健康讲座")
    me = login("marketer")
    invitations = []
    for name in ("张秀兰", "王桂英"):
        invitation = ev.invite(event, make_customer(me, name=name), actor=me)
        ev.change_invitation(invitation, "confirmed", actor=me)
        invitations.append(invitation)
    db.session.commit()
    response = client.get(f"/events/{event.id}/cards.pdf?layout={layout}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "张秀兰" in text and "王桂英" in text and "金秋健康讲座" in text
    expected = {i.token for i in invitations} if layout == "a4" else {invitations[0].token}
    if layout == "a6":  # one card per page: the first page holds the first by pinyin
        first = sorted(invitations, key=lambda i: i.customer.name_pinyin)[0]
        expected = {first.token}
    assert decode_qr_codes(response.data, tmp_path) == expected
    single = client.get(f"/events/invitations/{invitations[1].id}/card.pdf?layout=a6")
    assert single.status_code == 200 and "王桂英" in pdf_text(single.data)
    assert client.get(f"/events/{event.id}/cards.pdf?layout=a3").status_code == 422


def test_no_confirmed_invitations_means_nothing_to_print(db, client, login):
    event = make_event()
    login("marketer")
    response = client.get(f"/events/{event.id}/cards.pdf")
    assert response.status_code == 404 and "还没有已确认的邀约" in page_text(response)
