"""Channel ROI (渠道效果): every figure of a hand-built month against numbers worked out by hand,
on screen, as .xlsx and as PDF; the cost-entry screen with its one-time token and reversal."""
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from models import customers as c, events as ev, order_taking
from models.base import new_token, utcnow
from models.clock import day_start, local_day
from reports import channel_roi
from reports.params import parse
from tests.conftest import page_text
from tests.factories import make_customer, make_event
from tests.models.test_customer_figures import sell


@pytest.fixture
def month(db, shop):
    """This month, worked out by hand (the product costs ¥60 a box):

    Channels 电台讲座 (cost ¥200, and ¥50 entered by mistake then reversed; ¥9,999 last month,
    not counted), 平面广告 (¥100), 专卖店 (no cost).
    - 甲 (电台讲座): 2 × ¥198 taken home: sales 39600, COGS 12000.
    - 乙 (电台讲座): 3 × ¥100 left in custody, one returned: sales 30000 − 10000, COGS 18000
      − 6000 back on the shelf.
    - 丙 (电台讲座): registered, bought nothing.
    - 己 (电台讲座), registered last month, buys ¥198 this month: not acquired this month.
    - 丁 (平面广告): 1 × ¥198 taken: sales 19800, COGS 6000.
    - 庚 (专卖店): an order left in custody, then cancelled: nothing.
    - 戊 and the shop's 王大爷 (no channel): 戊 buys 1 × ¥100: sales 10000, COGS 6000.
    An event this month costs ¥500 (venue).
    """
    manager, finance = shop.manager, shop.finance
    radio = c.add_list_item("channel", "电台讲座", actor=manager)
    paper = c.add_list_item("channel", "平面广告", actor=manager)
    store = c.add_list_item("channel", "专卖店", actor=manager)
    today = local_day(utcnow())
    c.record_channel_cost(radio.id, month=today, amount_fen=20000, actor=finance,
                          token=new_token())
    wrong = c.record_channel_cost(radio.id, month=today, amount_fen=5000, actor=finance,
                                  token=new_token())
    c.reverse_channel_cost(wrong, reason="录错了", actor=manager)
    c.record_channel_cost(radio.id, month=today.replace(day=1) - timedelta(days=1),
                          amount_fen=999900, actor=finance, token=new_token())
    c.record_channel_cost(paper.id, month=today, amount_fen=10000, actor=manager,
                          token=new_token())

    def customer(name, channel):
        return make_customer(shop.marketer, name=name, channel_id=channel.id if channel
                             else None)
    people = {name: customer(name, channel) for name, channel in (
        ("甲", radio), ("乙", radio), ("丙", radio), ("己", radio), ("丁", paper),
        ("庚", store), ("戊", None))}
    people["己"].created_at = day_start(today.replace(day=1)) - timedelta(hours=12)
    sell(shop, people["甲"], 2, 19800)
    second = sell(shop, people["乙"], 3, 10000, held=3)
    order_taking.return_goods(second, second.lines[0], quantity=1, reason="不要了",
                              approver=manager, actor=manager, token=new_token())
    sell(shop, people["己"], 1, 19800)
    sell(shop, people["丁"], 1, 19800)
    order_taking.cancel_order(sell(shop, people["庚"], 1, 19800, held=1), reason="反悔",
                              actor=manager)
    sell(shop, people["戊"], 1, 10000)
    event = make_event(manager, title="本月讲座", days=0)
    ev.add_cost(event, kind="venue", amount_fen=50000, actor=manager)
    return {"radio": radio, "paper": paper, "store": store, "people": people, "event": event}


# By hand (fen):
# 电台讲座: cost 20000; acquired 甲 乙 丙 = 3, buyers 2; sales 39600 + 20000 = 59600;
#   COGS 12000 + 12000 = 24000; margin 35600; ROI (35600 − 20000) / 20000 = +78.0 %.
# 平面广告: cost 10000; 1 acquired, 1 buyer; sales 19800, COGS 6000, margin 13800;
#   ROI (13800 − 10000) / 10000 = +38.0 %.
# 专卖店: 1 acquired, no buyer, no cost: ROI none. No channel: 戊 and 王大爷, 1 buyer, sales
#   10000, COGS 6000, margin 4000, no cost.
# Total: cost 30000, acquired 7, buyers 4, sales 89400, COGS 36000, margin 53400,
#   ROI (53400 − 30000) / 30000 = +78.0 %.
RADIO = {"cost": 20000, "acquired": 3, "buyers": 2, "sales": 59600, "cogs": 24000,
         "margin": 35600, "roi": 78.0}
PAPER = {"cost": 10000, "acquired": 1, "buyers": 1, "sales": 19800, "cogs": 6000,
         "margin": 13800, "roi": 38.0}
STORE = {"cost": 0, "acquired": 1, "buyers": 0, "sales": 0, "cogs": 0, "margin": 0,
         "roi": None}
NONE = {"cost": 0, "acquired": 2, "buyers": 1, "sales": 10000, "cogs": 6000, "margin": 4000,
        "roi": None}
TOTAL = {"cost": 30000, "acquired": 7, "buyers": 4, "sales": 89400, "cogs": 36000,
         "margin": 53400, "roi": 78.0}


def gathered(user, **args):
    return channel_roi.gather(parse(args, user))


def test_every_figure_by_hand(db, shop, month):
    data = gathered(shop.manager)
    rows = {row["name"]: row for row in data["rows"]}
    for name, expected in (("电台讲座", RADIO), ("平面广告", PAPER), ("专卖店", STORE),
                           ("未填来源渠道", NONE)):
        assert {k: rows[name][k] for k in expected} == expected, name
    assert {k: data["total"][k] for k in TOTAL} == TOTAL
    # The channels no one used this month show zeros and add nothing.
    assert all(row["acquired"] == 0 and row["cost"] == 0 for name, row in rows.items()
               if name not in ("电台讲座", "平面广告", "专卖店", "未填来源渠道"))
    [event] = data["events"]
    assert (event["title"], event["cost"], event["sales"], event["roi"]) == \
        ("本月讲座", 50000, 0, -100.0)


def test_the_period_is_taken_in_whole_months(db, shop, month):
    today = local_day(utcnow())
    data = gathered(shop.finance, start=today.isoformat(), end=today.isoformat())
    assert data["start"] == today.replace(day=1).isoformat()
    assert {k: data["total"][k] for k in TOTAL} == TOTAL
    last_month = today.replace(day=1) - timedelta(days=1)
    before = gathered(shop.finance, start=last_month.isoformat(), end=last_month.isoformat())
    radio = next(row for row in before["rows"] if row["name"] == "电台讲座")
    assert (radio["cost"], radio["acquired"], radio["sales"]) == (999900, 1, 0)  # 己


def test_on_screen_as_xlsx_and_as_pdf(db, client, login, shop, month):
    login(shop.finance)
    text = page_text(client.get("/reports/channels"))
    assert "渠道效果" in text and "电台讲座" in text and "+78.0 %" in text and "+38.0 %" in text
    assert "¥596.00" in text and "¥534.00" in text and "本月讲座" in text
    workbook = load_workbook(io.BytesIO(client.get("/reports/channels.xlsx").data))
    rows = {row[0]: row for row in workbook.active.iter_rows(values_only=True)}
    assert rows["电台讲座"][1:] == (200.0, 3, 2, 596.0, 240.0, 356.0, 78.0)
    assert rows["合计"][1:] == (300.0, 7, 4, 894.0, 360.0, 534.0, 78.0)
    response = client.get("/reports/channels.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "渠道效果" in pdf and "电台讲座" in pdf and "+78.0 %" in pdf
    assert client.get("/reports/channels?start=2026-13-01").status_code == 422


def test_the_cost_screen_enters_once_per_token_and_reverses(db, client, login, shop, month):
    login(shop.finance)
    form = client.get("/customers/channel-costs")
    assert form.status_code == 200 and "各来源渠道的营销费用" in page_text(form)
    token = new_token()
    posted = {"channel_id": month["store"].id, "month": local_day(utcnow()).strftime("%Y-%m"),
              "amount": "1234.50", "note": "门店海报", "token": token}

    def count():
        return db.session.scalar(select(func.count()).select_from(c.ChannelCost).where(
            c.ChannelCost.channel_id == month["store"].id))
    assert client.post("/customers/channel-costs", data=posted).status_code == 302
    assert client.post("/customers/channel-costs", data=posted).status_code == 302  # again
    assert count() == 1
    entry = db.session.scalar(select(c.ChannelCost).where(
        c.ChannelCost.channel_id == month["store"].id))
    assert (entry.amount_fen, entry.note, entry.created_by_id) == (123450, "门店海报",
                                                                  shop.finance.id)
    refused = client.post("/customers/channel-costs", data={**posted, "token": new_token(),
                                                            "amount": "0"})
    assert refused.status_code == 422 and count() == 1
    assert "请输入大于零" in page_text(refused)
    future = client.post("/customers/channel-costs", data={
        **posted, "token": new_token(), "month": f"{local_day(utcnow()).year + 1}-01"})
    assert future.status_code == 422 and count() == 1
    assert "月份开始后才能录入" in page_text(future)
    client.post(f"/customers/channel-costs/{entry.id}/reverse", data={"reason": ""})
    assert count() == 1  # a reason is needed
    client.post(f"/customers/channel-costs/{entry.id}/reverse", data={"reason": "重复录入"})
    assert count() == 2
    assert c.channel_costs(entry.month, entry.month).get(month["store"].id) == 0
    page = page_text(client.get("/customers/channel-costs"))
    assert "已冲销" in page and f"冲销第 {entry.id} 笔" in page
