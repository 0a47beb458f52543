"""The customer page's lifetime figures and RFM score (a constant number of statements however
many orders), and the customer list's RFM filters, within each user's scope."""
from datetime import timedelta

from sqlalchemy import event as sa_event

from extensions import db as _db
from jobs import customers as job_customers
from models import order_taking, orders as o
from models.base import new_token, utcnow
from tests.conftest import page_text
from tests.factories import company_today, make_customer, make_department, make_user
from tests.models.test_customer_figures import BUYERS, EXPECTED, buy_the_ten, sell


def statements_of(client, url):
    seen = []

    def saw(_conn, _cursor, statement, *_args):
        seen.append(statement)
    sa_event.listen(_db.engine, "before_cursor_execute", saw)
    try:
        response = client.get(url)
    finally:
        sa_event.remove(_db.engine, "before_cursor_execute", saw)
    assert response.status_code == 200
    return response, len(seen)


def test_the_customer_page_shows_lifetime_figures_and_the_rfm_score(db, client, login, shop):
    customer = shop.customer
    first = sell(shop, customer, 2, 19800, at=utcnow() - timedelta(days=10))
    o.receive_payment(first, amount=30000, method="cash", actor=shop.finance, token=new_token())
    sell(shop, customer, 1, 10000, held=1, at=utcnow() - timedelta(days=4))
    never = make_customer(shop.marketer, name="没买过")
    login(shop.marketer)
    # By hand: sales 39600 + 10000 = 49600; collected 30000; COGS 3 boxes × ¥60 = 18000;
    # margin 31600; the last purchase 4 days ago. Not scored before the nightly job.
    text = page_text(client.get(f"/customers/{customer.id}"))
    assert "累计消费" in text and "¥496.00" in text and "¥300.00" in text
    assert "¥180.00" in text and "¥316.00" in text and "4 天前" in text
    assert "RFM 今晚评分" in text
    assert "未购买" in page_text(client.get(f"/customers/{never.id}"))
    job_customers.rfm(company_today())
    assert "R1 F1 M1" in page_text(client.get(f"/customers/{customer.id}"))  # the one buyer


def test_the_customer_page_costs_the_same_statements_whatever_the_orders(db, client, login,
                                                                          shop):
    few = make_customer(shop.marketer, name="一单")
    many = make_customer(shop.marketer, name="多单")
    sell(shop, few, 1, 19800, held=1)  # both hold goods: the custody card reads them
    for n in range(6):
        order = sell(shop, many, 1, 19800 + n, held=n % 2, at=utcnow() - timedelta(days=n))
        o.receive_payment(order, amount=10000, method="cash", actor=shop.finance,
                          token=new_token())
    order_taking.return_goods(order, order.lines[0], quantity=1, reason="不要了",
                              approver=shop.manager, actor=shop.manager, token=new_token())
    job_customers.rfm(company_today())
    login(shop.marketer)
    client.get(f"/customers/{few.id}")  # warm: the user, the session, the settings
    _response, one = statements_of(client, f"/customers/{few.id}")
    response, six = statements_of(client, f"/customers/{many.id}")
    assert "多单" in page_text(response)
    assert six == one, (one, six)
    # 40 before the page gained its after-sales warning, purchase intent and experience visits,
    # and messages on the timeline (a read each, whatever the orders)
    assert one <= 46, one


def test_the_list_filters_by_minimum_rfm_scores_within_scope(db, client, login, shop):
    buy_the_ten(shop)
    job_customers.rfm(company_today())
    login(shop.marketer)
    names = set(BUYERS) | {"没买过", "退单", "王大爷"}

    def listed(query):
        text = page_text(client.get(f"/customers/?{query}", headers={"HX-Request": "true"}))
        return {name for name in names if name in text}
    assert listed("min_recency=5") == {"甲", "乙"}
    assert listed("min_frequency=5") == {"己", "辛"}
    assert listed("min_recency=4&min_frequency=3&min_monetary=3") == {"丙"}
    assert listed("min_monetary=5") == {"戊", "癸"}
    assert listed("") == names  # no minimum: every customer, scored or not
    assert listed("min_recency=9") == names  # not a choice: refused quietly, no filter
    # The score is shown in the list.
    text = page_text(client.get("/customers/?min_monetary=5", headers={"HX-Request": "true"}))
    assert EXPECTED["戊"] in text and EXPECTED["癸"] in text
    # Another department's marketer and head find none of them through the filter.
    other_department = make_department("销售三部")
    for role in ("marketer", "dept_head"):
        client.post("/auth/logout")
        login(make_user([role], department=other_department))
        assert listed("min_recency=1") == set()
    # The marketer's own head and a manager see them.
    client.post("/auth/logout")
    login(shop.head)
    assert listed("min_recency=5") == {"甲", "乙"}
