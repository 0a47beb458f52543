"""A marketer on a tablet finds a customer by pinyin initials, opens them, records a call."""
import re

import pytest

from tests.browser.test_navigation import sign_in


@pytest.mark.parametrize("viewport", [{"width": 1024, "height": 768},
                                      {"width": 800, "height": 1280}])
def test_marketer_finds_a_customer_by_initials_on_a_tablet(page, live_server, screenshot,
                                                            viewport):
    page.set_viewport_size(viewport)
    sign_in(page, live_server, "marketer")
    page.goto(f"{live_server}/customers/")
    box = page.get_by_role("searchbox")
    assert box.bounding_box()["height"] >= 44
    box.fill("zxl")  # 张秀兰, typed as initials: the list updates as you type (htmx)
    page.wait_for_url(re.compile(r"q=zxl"))
    rows = page.get_by_test_id("customer-link")
    rows.first.wait_for()
    assert [rows.nth(i).inner_text() for i in range(rows.count())] == ["张秀兰"]
    assert "139****0001" in page.get_by_test_id("customers-table").inner_text()
    screenshot(f"customers-search-{viewport['width']}")
    rows.first.click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    assert page.locator("h1").inner_text() == "张秀兰"
    page.get_by_test_id("show-phone").click()
    assert "13900000001" in page.get_by_test_id("full-phone").inner_text()
    page.get_by_label("跟进内容").fill(f"电话问候，约周六听讲座 {viewport['width']}")
    page.get_by_role("button", name="保存跟进").click()
    page.wait_for_url(re.compile(r"/customers/\d+$"))
    assert f"电话问候，约周六听讲座 {viewport['width']}" in \
        page.get_by_test_id("timeline").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(f"customer-page-{viewport['width']}")


def test_other_marketers_customer_is_not_found(page, live_server):
    sign_in(page, live_server, "marketer2")
    page.goto(f"{live_server}/customers/?q=zxl")
    assert page.get_by_test_id("customer-link").count() == 0
    assert "没有符合条件的顾客" in page.get_by_test_id("customers-table").inner_text()


@pytest.fixture
def stray_customer(live_app):
    """A customer of 刘芳's that the manager hands to 陈伟 (a new one: others' tests use the
    demo customers as they are)."""
    from extensions import db
    from models import accounts, customers as c
    with live_app.app_context():
        owner = accounts.find_user_by_username("marketer")
        customer = c.create_customer(c.CustomerData(name="易转交", phone="13911112222"),
                                     actor=owner)
        db.session.commit()
        db.session.remove()


def test_manager_transfers_a_customer_found_by_typing(page, live_server, stray_customer,
                                                      screenshot):
    """The ticked rows' form stays under the rows while the search box swaps them: what is
    ticked in the rows found is transferred, and the list comes back with that search."""
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/customers/")
    form = page.locator("#list-form")
    page.get_by_role("searchbox").fill("没有这位顾客")
    page.wait_for_url(re.compile(r"q=%E6%B2%A1"))
    assert "没有符合条件的顾客" in page.get_by_test_id("customers-table").inner_text()
    assert not form.is_visible()  # nothing to tick
    page.get_by_label("状态", exact=True).select_option("active")  # a filter: rows again
    page.wait_for_url(re.compile(r"status=active"))
    page.get_by_role("searchbox").fill("yzj")
    page.wait_for_url(re.compile(r"q=yzj.*status=active"))
    rows = page.get_by_test_id("customer-link")
    assert [rows.nth(i).inner_text() for i in range(rows.count())] == ["易转交"]
    assert form.is_visible()
    tick = page.get_by_test_id("select-customer").first
    tick.check()
    page.wait_for_timeout(600)  # leaving the box fetched the rows again and dropped the tick
    assert tick.is_checked()
    form.get_by_label("交给业务员").select_option(label="陈伟（销售二部）")
    form.get_by_label("原因").fill("片区调整")
    screenshot("customers-transfer-found")
    form.get_by_role("button", name="转移所选").click()
    page.wait_for_url(re.compile(r"/customers/\?q=yzj(&|$)"))
    assert "已转移 1 位顾客" in page.locator(".alert-success").inner_text()
    owners = page.get_by_test_id("customers-table").locator("tbody tr td:nth-child(5)")
    assert owners.first.inner_text() == "陈伟"


@pytest.fixture
def pooled_customer(live_app):
    """A customer in the public pool (released by the manager), for the pool's assign."""
    from extensions import db
    from models import accounts, customers as c
    with live_app.app_context():
        owner = accounts.find_user_by_username("marketer")
        manager = accounts.find_user_by_username("manager")
        customer = c.create_customer(c.CustomerData(name="公海待分", phone="13911113333"),
                                     actor=owner)
        c.release_to_pool([customer.id], actor=manager, reason="久未跟进")
        db.session.commit()
        db.session.remove()


def test_manager_assigns_a_pool_customer_found_by_typing(page, live_server, pooled_customer,
                                                         screenshot):
    """In the public pool the form for ticked rows assigns: the manager types the name, ticks
    the row, picks a marketer and a reason, and the customer leaves the pool for them."""
    page.set_viewport_size({"width": 1024, "height": 768})
    sign_in(page, live_server, "manager")
    page.goto(f"{live_server}/customers/pool")
    form = page.locator("#list-form")
    page.get_by_role("searchbox").fill("gh")
    page.wait_for_url(re.compile(r"q=gh"))
    rows = page.get_by_test_id("customer-link")
    assert "公海待分" in [rows.nth(i).inner_text() for i in range(rows.count())]
    page.get_by_test_id("customers-table").locator("tr", has_text="公海待分") \
        .get_by_test_id("select-customer").check()
    assert form.get_by_role("button", name="转移所选").count() == 0  # the pool assigns
    form.get_by_label("交给业务员").select_option(label="陈伟（销售二部）")
    form.get_by_label("原因").fill("重新分配")
    screenshot("customers-pool-assign")
    form.get_by_role("button", name="分配所选").click()
    page.wait_for_selector(".alert-success")
    assert "已分配 1 位顾客" in page.locator(".alert-success").inner_text()
    page.goto(f"{live_server}/customers/?q=gh")
    row = page.get_by_test_id("customers-table").locator("tr", has_text="公海待分")
    assert row.locator("td:nth-child(5)").inner_text() == "陈伟"
