"""A large order on a tablet (issue 14 B): the marketer takes it with a deposit; it stays
unconfirmed — no money, no goods — through a wrong PIN, until the department head confirms it on
their own device; then the deposit can be taken and the head has a confirmation call for the
next day on their list."""
import re

from sqlalchemy import select

from extensions import db
from tests.browser.test_navigation import sign_in


def _customer_of(live_app, username):
    from models import accounts, customers
    with live_app.app_context():
        marketer = accounts.find_user_by_username(username)
        customer = db.session.scalars(select(customers.Customer).where(
            customers.Customer.owner_id == marketer.id).order_by(customers.Customer.id)).first()
        ids = customer.id, customer.name
        db.session.remove()
    return ids


def _set(live_app, **values):
    from models import accounts
    from models.settings import update_settings
    with live_app.app_context():
        update_settings({f"orders.{key}": value for key, value in values.items()},
                        actor=accounts.find_user_by_username("admin"))
        db.session.commit()
        db.session.remove()


def test_a_large_order_stays_unconfirmed_until_the_department_head_confirms(
        page, browser, live_server, live_app, screenshot):
    customer_id, name = _customer_of(live_app, "marketer")
    _set(live_app, large_order_yuan=1000)
    try:
        page.set_viewport_size({"width": 1024, "height": 768})
        sign_in(page, live_server, "marketer")
        page.goto(f"{live_server}/orders/new/{customer_id}")
        # In the shop: other browser tests may have invited this customer to an event.
        page.get_by_label("成交渠道").select_option("store")
        page.get_by_test_id("package-大单").click()
        page.get_by_label("现收金额（元）").fill("500")
        page.get_by_role("button", name="确认开单").click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_url = page.url
        body = page.locator("body").inner_text()
        assert "确认后再收定金" in body
        assert page.get_by_test_id("pending-confirmation").is_visible()
        assert page.get_by_test_id("payment-form").count() == 0
        form = page.get_by_test_id("confirm-form")
        form.get_by_label("确认人", exact=True).select_option(label="张丽")
        form.get_by_label("确认人的PIN").fill("0000")
        screenshot("order-large-pending")
        form.get_by_role("button", name="确认订单").click()
        assert "PIN" in page.locator("body").inner_text()
        assert page.get_by_test_id("pending-confirmation").is_visible()

        head = browser.new_page(viewport={"width": 1024, "height": 768})
        sign_in(head, live_server, "depthead")
        head.goto(order_url)
        head.get_by_test_id("confirm-form").get_by_label("确认人", exact=True).select_option(label="张丽")
        head.get_by_role("button", name="确认订单").click()
        head.wait_for_url(order_url)
        assert head.get_by_test_id("confirmed").is_visible()

        page.goto(order_url)
        assert page.get_by_test_id("payment-form").is_visible()
        screenshot("order-large-confirmed")

        head.goto(f"{live_server}/tasks/team")  # a head's own tasks are on their team page
        head.get_by_role("row").filter(has_text="张丽").get_by_role("link", name="查看清单").click()
        assert f"大单确认回访：{name}" in head.locator("body").inner_text()
        head.close()
    finally:
        _set(live_app, large_order_yuan=20000)

    from models.orders import Order
    from models.tasks import Task
    with live_app.app_context():
        order = db.session.get(Order, int(order_url.rsplit("/", 1)[1]))
        task = db.session.scalar(select(Task).where(Task.kind == "confirm_call",
                                                    Task.source_key == f"order:{order.id}"))
        from formatting import local_day
        assert (task.due_date - local_day(order.confirmed_at)).days == 1
        assert task.assignee_id == order.confirmed_by_id != order.marketer_id
        db.session.remove()


def test_a_price_below_the_marketers_authority_waits_for_the_heads_approval(
        page, browser, live_server, live_app, screenshot):
    """Issue 25 §1, by taps: a box of 灵芝孢子粉 (¥198) typed in at ¥160 — 19.2 % off, beyond
    the marketer's 10 % — makes the order wait; the head approves it on their own device; the
    order then shows who asked, who approved and the discount."""
    customer_id, _name = _customer_of(live_app, "marketer")
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/orders/new/{customer_id}")
    assert "最多低 10%" in page.get_by_test_id("price-authority").inner_text()
    page.get_by_label("成交渠道").select_option("store")
    line = page.locator("#lines tr.line").first
    line.get_by_label("商品（编码）").fill("LZ-001")
    line.get_by_label("数量").fill("1")
    line.get_by_label("单价（元）").fill("160")
    assert page.get_by_test_id("deal-total").inner_text() == "¥160.00"
    page.get_by_label("现收金额（元）").fill("50")
    page.get_by_role("button", name="确认开单").click()
    page.wait_for_url(re.compile(r"/orders/\d+$"))
    order_url = page.url
    pending = page.get_by_test_id("pending-confirmation")
    assert "价格超出权限" in pending.inner_text() and "超出您 10% 的权限" in pending.inner_text()
    assert page.get_by_test_id("payment-form").count() == 0
    screenshot("order-price-pending")

    head = browser.new_page(viewport={"width": 1024, "height": 768})
    sign_in(head, live_server, "depthead")
    head.goto(order_url)
    assert "审批价格" in head.locator("body").inner_text()
    head.get_by_test_id("confirm-form").get_by_label("确认人", exact=True).select_option(
        label="张丽")
    head.get_by_role("button", name="确认订单").click()
    head.wait_for_url(order_url)
    approved = head.get_by_test_id("price-approved").inner_text()
    assert "张丽" in approved and "申请" in approved
    assert "−¥38.00" in head.get_by_test_id("discount-given").inner_text()
    head.close()
    page.goto(order_url)
    assert page.get_by_test_id("payment-form").is_visible()
    screenshot("order-price-approved")
