"""WeChat on "Today" (#28 §4): the queued WeChat messages for the marketer's customers (or made
by them) are listed with their text; 已发送 marks one sent — once, however often it is tapped;
another marketer's message does not exist for them (404) and is not listed; a cancelled one is
refused with a Chinese message; SMS messages are not listed (the sender sends those)."""
import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import events as ev, messages as m
from models.audit import AuditEntry
from models.base import NotFound, new_token
from tests.blueprints.test_races import signed_in
from tests.conftest import page_text
from tests.races import race as run_together
from tests.factories import make_customer, make_event, make_user


def wechat(customer, actor, text="{称呼}您好，明天见。", channel="wechat"):
    return m.queue_customer_message(customer, text=text, channel=channel, actor=actor,
                                    token=new_token())


def audits(message):
    return _db.session.scalar(select(func.count(AuditEntry.id)).where(
        AuditEntry.action == "message_wechat_sent", AuditEntry.target_id == message.id))


def test_today_lists_the_marketers_wechat_messages(client, login, db):
    me, other = make_user(["marketer"]), make_user(["marketer"])
    mine = wechat(make_customer(me, name="张秀兰", gender="F", birth_year=1950), me)
    # made by a job (no user) for a customer I own: mine too
    by_job = m.queue_message(make_customer(me, name="李建国"), text="李先生您好", channel="wechat",
                             subject_key="birthday:2026", job="care")
    # made by me for a customer someone else owns now: still mine to send
    made_by_me = wechat(make_customer(other, name="王丽"), me, text="王丽您好")
    theirs = wechat(make_customer(other, name="赵敏"), other, text="赵敏您好")
    sms = wechat(make_customer(me, name="短信"), me, text="短信您好", channel="sms")
    login(me)
    html = page_text(client.get("/tasks/"))
    for shown in (mine, by_job, made_by_me):
        assert shown.text in html
    assert "张阿姨您好，明天见。" in html and "复制" in html and "已发送" in html
    assert theirs.text not in html and sms.text not in html


def test_sent_marks_it_once_and_is_idempotent(client, login, db):
    me = make_user(["marketer"])
    message = wechat(make_customer(me), me)
    login(me)
    response = client.post(f"/tasks/wechat/{message.id}/sent", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'data-status="sent"' in response.get_data(as_text=True)
    _db.session.expire_all()
    assert message.status == "sent" and message.sent_at is not None
    first_sent = message.sent_at
    again = client.post(f"/tasks/wechat/{message.id}/sent")  # a second tap: nothing changes
    assert again.status_code == 302 and again.location.endswith("/tasks/")
    _db.session.expire_all()
    assert (message.status, message.sent_at, audits(message)) == ("sent", first_sent, 1)
    assert message.text not in page_text(client.get("/tasks/"))  # sent: off the list


def test_another_marketers_message_is_not_found(client, login, db):
    me, other = make_user(["marketer"]), make_user(["marketer"])
    theirs = wechat(make_customer(other), other)
    head = make_user(["dept_head"])
    for who in (me, head):
        login(who)
        assert client.post(f"/tasks/wechat/{theirs.id}/sent").status_code == 404
    assert client.post("/tasks/wechat/99999999999/sent").status_code == 404
    _db.session.expire_all()
    assert theirs.status == "queued" and audits(theirs) == 0


def test_an_sms_is_not_marked_by_hand(client, login, db):
    me = make_user(["marketer"])
    sms = wechat(make_customer(me), me, channel="sms")
    login(me)
    assert client.post(f"/tasks/wechat/{sms.id}/sent").status_code == 404
    _db.session.expire_all()
    assert sms.status == "queued"


def test_a_cancelled_message_is_refused_in_chinese(client, login, db):
    me = make_user(["marketer"])
    message = wechat(make_customer(me), me)
    m.cancel_message(message, actor=me)
    login(me)
    response = client.post(f"/tasks/wechat/{message.id}/sent", headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert "已取消" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert message.status == "cancelled" and message.sent_at is None


def test_mark_copied_sent_is_scoped_in_the_operation_too(db):
    me, other = make_user(["marketer"]), make_user(["marketer"])
    message = wechat(make_customer(me), me)
    with pytest.raises(NotFound):
        m.mark_copied_sent(message, actor=other)
    assert m.mark_copied_sent(message, actor=me).status == "sent"
    assert m.mark_copied_sent(message, actor=me).status == "sent"
    assert audits(message) == 1


def test_eight_taps_at_once_mark_it_sent_once(app, committed_db):
    """已发送 tapped on 8 devices at once: every tap answers (never a 500), the message is sent
    once and the audit log says so once (the conditional UPDATE lets one through)."""
    me = make_user(["marketer"])
    message_id = wechat(make_customer(me), me).id
    _db.session.commit()
    clients = [signed_in(app, me) for _ in range(8)]
    answers = [None] * 8

    def tap(i):
        response = clients[i].post(f"/tasks/wechat/{message_id}/sent",
                                   headers={"HX-Request": "true"})
        answers[i] = response.status_code
        response.close()

    assert run_together(tap, range(8), timeout=120) == []
    _db.session.remove()
    assert answers == [200] * 8
    again = _db.session.get(m.Message, message_id)
    assert again.status == "sent" and audits(again) == 1


def test_a_message_about_an_event_offers_the_invitation_card_image(client, login, db):
    me = make_user(["marketer"])
    customer = make_customer(me, name="张秀兰")
    event = make_event(make_user(["manager"]))
    invitation = ev.invite(event, customer, actor=me)
    about = m.queue_message(customer, text="张阿姨，明天见", channel="wechat", event=event,
                            subject_key=f"event:{event.id}", made_by=me)
    plain = wechat(make_customer(me, name="李建国"), me, text="李先生您好")
    assert m.invitation_cards_of([about, plain]) == {about.id: invitation.id}
    login(me)
    html = client.get("/tasks/").get_data(as_text=True)
    assert html.count('data-testid="wechat-card"') == 1
    assert f"/events/invitations/{invitation.id}/card.png" in html
    assert client.get(f"/events/invitations/{invitation.id}/card.png").status_code == 200
