"""Finance approves last month's commission on a tablet (#27 §2): 报表 → 提成, back one month,
计算提成 (each marketer's line: money collected, the tier, the commission), 审批并锁定, and the
month shows locked with no button left to press; the 考核表 of the month shows the approved
commission beside the targets. At 1024×768; screenshots saved."""
from datetime import time, timedelta

import pytest

from extensions import db
from formatting import local_day
from models import commission as cm, orders as o, targets as tg
from models.accounts import User
from models.base import new_token, utcnow
from models.clock import at_local
from models.customers import Customer
from models.inventory import Product, Warehouse
from tests.browser.conftest import fresh_app, serving
from tests.browser.test_navigation import sign_in
from tests.factories import make_order


@pytest.fixture
def own_company(tmp_path):
    """The demo company on a database of its own, with last month's money: 刘芳 sold 张秀兰 two
    boxes of 灵芝孢子粉 (¥396) and was paid in full on the 10th, against a ¥300 target."""
    from blueprints.admin.commands import load_demo_data
    app = fresh_app(tmp_path)
    with app.app_context():
        load_demo_data(echo=lambda *a: None)
        users = {u.username: u for u in db.session.scalars(db.select(User))}
        last = cm.previous_month(local_day(utcnow()).replace(day=1))
        customer = db.session.scalar(db.select(Customer).where(Customer.name == "张秀兰"))
        product = db.session.scalar(db.select(Product).where(Product.sku == "LZ-001"))
        main = db.session.scalar(db.select(Warehouse).where(Warehouse.code == "MAIN"))
        order = make_order(customer, warehouse=main, actor=users["marketer"],
                           lines=[{"product": product, "quantity": 2}])
        paid = at_local(last.replace(day=10), time(10))
        o.receive_payment(order, amount=order.total, method="wechat", actor=users["finance"],
                          token=new_token(), at=paid, now=paid + timedelta(minutes=5))
        tg.set_targets("marketer", users["marketer"], "month", last, {"collections": 30000},
                       actor=users["manager"])
        db.session.commit()
        db.session.remove()
    with serving(app) as url:
        yield app, url, last


def test_finance_computes_and_approves_last_month(page, own_company, screenshot):
    app, url, last = own_company
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, url, "finance")
    page.goto(f"{url}/reports/")
    page.get_by_test_id("commission-card").click()
    page.get_by_test_id("previous-month").click()
    page.get_by_text(f"提成 · {cm.month_label(last)}").first.wait_for()
    assert page.get_by_test_id("run-status").inner_text() == "未计算"
    page.get_by_test_id("compute").click()
    page.get_by_text("的提成已计算").wait_for()
    row = page.get_by_test_id("commission-table").locator("tr").filter(has_text="刘芳")
    # ¥396 of a ¥300 target (132 %): ×1.20; ¥396 × 3 % × 1.2 = ¥14.26 (14.256 rounded)
    text = row.inner_text()
    assert "¥396.00" in text and "×1.20" in text and "¥14.26" in text, text
    for button in (page.get_by_test_id("compute"), page.get_by_test_id("approve"),
                   page.get_by_test_id("discard")):
        assert button.bounding_box()["height"] >= 44
    screenshot("commission-draft-1024")
    page.get_by_test_id("approve").click()
    page.get_by_text("已审批并锁定。").wait_for()
    assert page.get_by_test_id("run-status").inner_text() == "已审批（锁定）"
    assert page.get_by_test_id("locked").is_visible()
    assert page.get_by_test_id("compute").count() == 0 and \
        page.get_by_test_id("approve").count() == 0
    screenshot("commission-approved-1024")
    row.get_by_role("link", name="刘芳").click()
    page.get_by_test_id("lines").wait_for()
    assert "张秀兰" in page.get_by_test_id("lines").inner_text()
    screenshot("commission-lines-1024")
    page.goto(f"{url}/reports/assessment?month={cm.month_label(last)}")
    row = page.get_by_test_id("assessment-table").locator("tr").filter(has_text="刘芳")
    text = row.inner_text()  # 32 points above 100 % × ¥20 = ¥640, + ¥14.26
    assert "¥14.26" in text and "¥640.00" in text and "¥654.26" in text, text
    screenshot("assessment-1024")
    with app.app_context():
        assert cm.run_of(last).is_locked
