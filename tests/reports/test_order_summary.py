"""The large-print order summary prints what the custody ledger holds now and what may be
collected today — not what the order's lines once left with the company (issue 25 §5)."""
import io

from pypdf import PdfReader

from models import custody as cu, order_taking, orders as o
from models.base import new_token
from reports import order_summary
from tests.factories import make_order, make_stocked_product


def summary_text(order, printed_by):
    pdf = order_summary.build(order_summary.gather(order, printed_by=printed_by))
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages) \
        .replace(" ", "").replace("\n", "")


def test_after_a_pickup_and_a_return_the_summary_prints_what_is_held_now(db, shop):
    fish_oil = make_stocked_product(shop.warehouse, 10, name="深海鱼油软胶囊", unit="瓶",
                                    sale_price=10000)
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       lines=[{"product": shop.product, "quantity": 6, "held": 6},
                              {"product": fish_oil, "quantity": 4, "held": 4}])
    box, bottles = order.lines
    # unpaid: everything held, nothing to collect yet
    text = summary_text(order, "刘芳")
    assert "灵芝孢子粉6盒（付清后可领取）" in text and "深海鱼油软胶囊4瓶（付清后可领取）" in text
    o.receive_payment(order, amount=order.total, method="cash", actor=shop.finance,
                      token=new_token())
    cu.pick_up(shop.customer, {box.id: 2}, actor=shop.clerk, token=new_token())
    order_taking.return_goods(order, bottles, quantity=4, reason="不要了", approver=shop.manager,
                              actor=shop.manager, token=new_token())
    kept = summary_text(order, "刘芳").split("我们为您保管：")[1].split("改变主意")[0]
    assert kept == "灵芝孢子粉4盒（现在都可领取）"  # 2 collected, the 4 bottles returned


def test_a_part_paid_order_says_how_much_may_be_collected_now(db, shop):
    """¥1,980 of ¥3,960 paid for 20 boxes left with us: half may be collected (the proportional
    rule, the default)."""
    order = make_order(shop.customer, warehouse=shop.warehouse, actor=shop.marketer,
                       lines=[{"product": shop.product, "quantity": 2, "held": 2}])
    o.receive_payment(order, amount=order.total // 2, method="cash", actor=shop.finance,
                      token=new_token())
    assert "灵芝孢子粉2盒（现在可领1盒，其余付清后可领取）" in summary_text(order, "刘芳")
