"""Targets over HTTP (#27 §1): a manager sets a department's month, its head shares it among the
marketers and adjusts one, the marketer finds their pace on "Today", the performance report of
the month shows each target beside its figure; bad input and other departments are refused."""
from sqlalchemy import func, select

from formatting import local_day
from models import customers as c, targets as tg
from models.base import utcnow
from tests.conftest import page_text
from tests.factories import make_customer, make_department, make_user


def month():
    return tg.period_start("month", local_day(utcnow()))


def test_a_month_of_targets_from_the_department_to_the_marketers(db, client, login):
    one, two = make_department("一部"), make_department("二部")
    head = make_user(["dept_head"], display_name="周主任", department=one)
    liu = make_user(["marketer"], display_name="刘芳", department=one)
    zhao = make_user(["marketer"], display_name="赵敏", department=one)
    make_user(["marketer"], display_name="王强", department=two)
    start = month().isoformat()
    login("manager")
    page = page_text(client.get("/reports/targets"))
    assert "一部" in page and "二部" in page and "本期已过" in page
    saved = client.post(f"/reports/targets/edit?scope=department&subject={one.id}",
                        data={"period": "month", "start": start, "collections": "10000",
                              "invitations": "61"})
    assert saved.status_code == 302, page_text(saved)[:500]
    client.post("/auth/logout")

    login(head)
    page = client.get("/reports/targets")  # a head opens on their own department
    assert page.status_code == 200 and "刘芳" in page_text(page) and "王强" not in page_text(page)
    # A page left open past its token's life: told to reload, nothing spread.
    stale = client.post(f"/reports/targets/spread?department={one.id}",
                        data={"period": "month", "start": start, "csrf_token": "stale"},
                        csrf=False)
    assert stale.status_code in (302, 400), stale.status_code
    said = page_text(client.get(stale.location) if stale.status_code == 302 else stale)
    assert "刷新" in said or "过期" in said, said[:300]
    assert tg.targets_of("marketer", [liu.id, zhao.id], "month", month()) == {}
    spread = client.post(f"/reports/targets/spread?department={one.id}",
                         data={"period": "month", "start": start})
    assert spread.status_code == 302
    assert tg.targets_of("marketer", [liu.id, zhao.id], "month", month()) == {
        liu.id: {"collections": 500000, "invitations": 31},
        zhao.id: {"collections": 500000, "invitations": 30}}
    adjusted = client.post(f"/reports/targets/edit?scope=marketer&subject={zhao.id}",
                           data={"period": "month", "start": start, "collections": "6000",
                                 "invitations": "30", "contacts": ""})
    assert adjusted.status_code == 302
    assert tg.targets_of("marketer", [zhao.id], "month", month())[zhao.id]["collections"] == \
        600000
    page = page_text(client.get("/reports/targets"))
    assert "目标 ¥5,000.00" in page and "目标 ¥6,000.00" in page
    # another department's marketer, or a department's own target: not a head's to set
    other = client.get(f"/reports/targets?department={two.id}")
    assert other.status_code == 404
    assert client.get(f"/reports/targets/edit?scope=department&subject={one.id}") \
        .status_code == 403
    client.post("/auth/logout")

    login(liu)
    customer = make_customer(liu, name="顾客甲")
    c.record_contact(customer, kind="call", content="约下周讲座", actor=liu)
    db.session.commit()
    today = page_text(client.get("/tasks/"))
    assert "本月目标" in today and "回款完成 0 %" in today and "本月已过" in today
    assert "¥0.00 / ¥5,000.00" in today
    mine = page_text(client.get("/reports/targets"))
    assert "刘芳" in mine and "赵敏" not in mine
    assert client.post(f"/reports/targets/edit?scope=marketer&subject={liu.id}",
                       data={"period": "month", "start": start, "collections": "1"}) \
        .status_code == 403
    report = page_text(client.get(f"/reports/performance?start={start}"
                                  f"&end={tg.period_end('month', month()).isoformat()}"))
    assert "目标 31 · 完成 0 %" in report and "目标 ¥5,000.00" in report


def test_bad_targets_get_a_chinese_message_and_nothing_is_written(db, client, login):
    one = make_department("一部")
    liu = make_user(["marketer"], display_name="刘芳", department=one)
    login("manager")
    start = month().isoformat()
    for data, message in (({"invitations": "-5"}, "目标不能小于 0"),
                          ({"collections": "-1"}, "¥0"),
                          ({"collections": "abc"}, "¥0"),
                          ({"arrivals": "9" * 40}, "太大")):
        refused = client.post(f"/reports/targets/edit?scope=marketer&subject={liu.id}",
                              data={"period": "month", "start": start, **data})
        assert refused.status_code == 422, data
        assert message in page_text(refused), (data, page_text(refused)[:600])
    bad_day = client.post(f"/reports/targets/edit?scope=marketer&subject={liu.id}",
                          data={"period": "month", "start": "2026-02-30", "invitations": "3"})
    assert bad_day.status_code == 302  # back to the targets page, told why
    assert "不是有效的日期" in page_text(client.get(bad_day.location))
    assert client.get("/reports/targets/edit?scope=team&subject=1").status_code == 404
    assert client.get("/reports/targets?period=year").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(tg.Target)) == 0
