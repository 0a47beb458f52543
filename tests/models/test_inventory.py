"""The warehouse: products and their price history, batches with expiry, the stock ledger and
its operations, documents, stock counts, the views and the ledger check."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from models import inventory as inv
from models.base import Conflict, InvalidInput, NotFound, new_token, utcnow
from models.ledgers import check_ledgers
from models.settings import update_settings
from tests.factories import company_today, make_customer, make_product, make_user, make_warehouse

TODAY = company_today()


@pytest.fixture
def clerk(db):
    return make_user(["warehouse"], display_name="王仓管")


@pytest.fixture
def main(db, clerk):
    return make_warehouse("总仓", actor=clerk)


def free(warehouse, product, batch=None):
    return inv.quantity_in(inv.location_of(warehouse), product, batch)


def receive(product, quantity, warehouse, clerk, number="B1", expiry=None, **kw):
    return inv.receive(product=product, quantity=quantity, warehouse=warehouse, actor=clerk,
                       batch_number=number, expiry_date=expiry, **kw)


# --- Products -------------------------------------------------------------------------------

def test_a_product_is_found_by_sku_name_pinyin_and_initials(db, clerk):
    product = make_product("灵芝孢子粉", sku="LZ-001", actor=clerk)
    for typed in ("LZ-001", "lz-0", "孢子", "lingzhi", "lzbzf"):
        assert db.session.scalars(inv.find_products(typed)).all() == [product], typed
    assert inv.product_by_code("lz-001") is product


def test_price_changes_are_kept_with_who_when_old_and_new(db, clerk):
    product = make_product(sku="P1", actor=clerk)
    manager = make_user(["manager"], display_name="李总")
    inv.update_product(product, {"sku": "P1", "name": product.name, "unit": "盒",
                                 "sale_price": 16800, "standard_cost": 6000, "for_sale": True,
                                 "redeemable": True, "points_price": 2000}, actor=manager)
    history = inv.price_history(product)
    assert {(h.field, h.old_value, h.new_value, h.actor.display_name) for h in history} == {
        ("sale_price", 19800, 16800, "李总"), ("points_price", None, 2000, "李总")}


@pytest.mark.parametrize("changes, field", [
    ({"sku": "有中文"}, "sku"), ({"name": ""}, "name"), ({"unit": ""}, "unit"),
    ({"sale_price": -1}, "sale_price"), ({"redeemable": True, "points_price": None},
                                         "points_price"),
    ({"for_sale": False}, "for_sale"), ({"shelf_life_days": 0}, "shelf_life_days"),
])
def test_bad_product_data_is_refused_with_the_field_named(db, clerk, changes, field):
    data = {"sku": "OK1", "name": "蜂胶", "unit": "瓶", "for_sale": True, **changes}
    with pytest.raises(InvalidInput) as caught:
        inv.create_product(data, actor=clerk)
    assert caught.value.field == field


def test_skus_are_unique_whatever_the_case(db, clerk):
    make_product(sku="ABC", actor=clerk)
    with pytest.raises(Conflict, match="(?i)abc.*已"):
        make_product(sku="abc", actor=clerk)


# --- Receive, issue, transfer, scrap, reverse -----------------------------------------------

def test_receive_creates_the_batch_and_the_stock(db, clerk, main):
    product = make_product(actor=clerk, shelf_life_days=365)
    move = receive(product, 10, main, clerk, number="20261101",
                   produced_on=date(2026, 11, 1), unit_cost=5500)
    assert move.reason == "receipt" and move.from_location.kind == "supplier"
    assert move.batch.expiry_date == date(2027, 11, 1)  # production + shelf life
    assert move.unit_cost == 5500 and move.value == 55000
    assert free(main, product) == 10
    receive(product, 5, main, clerk, number="20261101")  # same batch again
    assert free(main, product, move.batch) == 15


def test_receiving_with_expiry_before_production_is_refused(db, clerk, main):
    product = make_product(actor=clerk)
    with pytest.raises(InvalidInput, match="早于生产日期"):
        receive(product, 10, main, clerk, produced_on=date(2026, 5, 1),
                expiry=date(2026, 4, 1))
    assert free(main, product) == 0


@pytest.mark.parametrize("quantity", [0, -3, None, 2.5, True])
def test_zero_negative_or_odd_quantities_are_refused(db, clerk, main, quantity):
    product = make_product(actor=clerk)
    with pytest.raises(InvalidInput, match="大于零的整数"):
        receive(product, quantity, main, clerk)


def test_issue_takes_first_expiry_first_and_spans_batches(db, clerk, main):
    product = make_product(actor=clerk)
    late = receive(product, 5, main, clerk, number="LATE", expiry=TODAY + timedelta(days=300))
    soon = receive(product, 3, main, clerk, number="SOON", expiry=TODAY + timedelta(days=30))
    none = receive(product, 4, main, clerk, number="NONE")
    moves = inv.issue(product=product, quantity=6, warehouse=main, reason="sale_issue",
                      actor=clerk)
    assert [(m.batch.number, m.quantity) for m in moves] == [("SOON", 3), ("LATE", 3)]
    assert free(main, product, soon.batch) == 0 and free(main, product, late.batch) == 2
    assert free(main, product, none.batch) == 4  # batches without expiry go last


def test_issue_of_a_named_batch(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 5, main, clerk, number="A", expiry=TODAY + timedelta(days=30))
    b = receive(product, 5, main, clerk, number="B", expiry=TODAY + timedelta(days=90)).batch
    [move] = inv.issue(product=product, quantity=2, warehouse=main, reason="gift_issue",
                       actor=clerk, batch=b)
    assert move.batch is b


def test_issuing_more_than_on_hand_is_refused_and_writes_nothing(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 3, main, clerk)
    before = db.session.scalar(select(func.count(inv.StockMove.id)))
    with pytest.raises(Conflict, match="仅有 3 盒"):
        inv.issue(product=product, quantity=4, warehouse=main, reason="sale_issue",
                  actor=clerk)
    assert free(main, product) == 3
    assert db.session.scalar(select(func.count(inv.StockMove.id))) == before


def test_negative_stock_when_the_setting_allows_it(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 3, main, clerk)
    update_settings({"inventory.allow_negative_stock": True}, actor=make_user(["admin"]))
    inv.issue(product=product, quantity=5, warehouse=main, reason="sale_issue", actor=clerk)
    assert free(main, product) == -2
    assert check_ledgers()["stock"] == []


def test_expired_batches_are_never_sold_or_given_but_may_be_scrapped(db, clerk, main):
    product = make_product(actor=clerk, is_gift=True)
    old = receive(product, 4, main, clerk, number="OLD", expiry=TODAY - timedelta(days=1)).batch
    receive(product, 2, main, clerk, number="NEW", expiry=TODAY + timedelta(days=100))
    with pytest.raises(Conflict, match="有效期内"):
        inv.issue(product=product, quantity=3, warehouse=main, reason="sale_issue",
                  actor=clerk)
    with pytest.raises(Conflict, match="过期，不能出给客户"):
        inv.issue(product=product, quantity=1, warehouse=main, reason="gift_issue",
                  actor=clerk, batch=old)
    [gift] = inv.issue(product=product, quantity=2, warehouse=main, reason="gift_issue",
                       actor=clerk)
    assert gift.batch.number == "NEW"
    [scrapped] = inv.scrap(product=product, quantity=4, warehouse=main, actor=clerk, batch=old)
    assert scrapped.to_location.kind == "scrap"
    assert free(main, product) == 0


def test_transfer_moves_stock_between_warehouses_and_not_to_itself(db, clerk, main):
    product = make_product(actor=clerk)
    venue = make_warehouse("会场物料", kind="venue", actor=clerk)
    receive(product, 10, main, clerk)
    inv.transfer(product=product, quantity=4, from_warehouse=main, to_warehouse=venue,
                 actor=clerk)
    assert (free(main, product), free(venue, product)) == (6, 4)
    with pytest.raises(InvalidInput, match="另一个仓库"):
        inv.transfer(product=product, quantity=1, from_warehouse=main, to_warehouse=main,
                     actor=clerk)


def test_customer_returns_come_back_into_their_batch(db, clerk, main):
    product = make_product(actor=clerk)
    batch = receive(product, 5, main, clerk).batch
    customer = make_customer()
    [sold] = inv.issue(product=product, quantity=2, warehouse=main, reason="sale_issue",
                       actor=clerk, customer=customer)
    back = inv.take_back(product=product, batch=batch, quantity=1, warehouse=main,
                         actor=clerk, customer=customer)
    assert back.reason == "customer_return" and back.customer_id == customer.id
    assert free(main, product) == 4
    assert sold.customer_id == customer.id


def test_reverse_puts_the_goods_back_once_and_a_reversal_is_final(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 5, main, clerk)
    [move] = inv.issue(product=product, quantity=2, warehouse=main, reason="sale_issue",
                       actor=clerk)
    reversal = inv.reverse(move, actor=clerk, note="开错了")
    assert reversal.reverses_id == move.id and reversal.reason == "sale_issue"
    assert (reversal.from_location_id, reversal.to_location_id) == (move.to_location_id,
                                                                    move.from_location_id)
    assert free(main, product) == 5
    with pytest.raises(Conflict, match="已经冲销"):
        inv.reverse(move, actor=clerk)
    with pytest.raises(Conflict, match="本身是冲销"):
        inv.reverse(reversal, actor=clerk)


def test_a_receipt_whose_goods_are_gone_cannot_be_reversed(db, clerk, main):
    product = make_product(actor=clerk)
    receipt = receive(product, 5, main, clerk)
    inv.issue(product=product, quantity=4, warehouse=main, reason="sale_issue", actor=clerk)
    with pytest.raises(Conflict):
        inv.reverse(receipt, actor=clerk)
    assert free(main, product) == 1


def test_a_closed_warehouse_and_an_inactive_product_move_nothing(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 1, main, clerk)
    with pytest.raises(Conflict, match="仍有库存"):
        inv.update_warehouse(main, {"code": main.code, "name": main.name, "kind": "main",
                                    "is_active": False}, actor=clerk)
    empty = make_warehouse(actor=clerk)
    inv.update_warehouse(empty, {"code": empty.code, "name": empty.name, "kind": "main",
                                 "is_active": False}, actor=clerk)
    with pytest.raises(Conflict, match="已停用"):
        receive(product, 1, empty, clerk)


# --- Documents ------------------------------------------------------------------------------

def lines(*pairs, **extra):
    return [{"product": p, "quantity": q, **extra} for p, q in pairs]


def test_a_receipt_writes_all_its_lines_once_per_token(db, clerk, main):
    a, b = make_product("蜂胶", actor=clerk), make_product("鱼油", actor=clerk)
    token = new_token()
    receipt = inv.create_receipt(warehouse=main, supplier="康源公司", actor=clerk, token=token,
                                 lines=[{"product": a, "quantity": 10, "batch_number": "X1",
                                         "expiry_date": TODAY + timedelta(days=200)},
                                        {"product": b, "quantity": 20}, {}])
    assert receipt.number.startswith("RK") and len(inv.document_moves(receipt)) == 2
    again = inv.create_receipt(warehouse=main, actor=clerk, token=token,
                               lines=lines((a, 10), (b, 20)))
    assert again is receipt
    assert (free(main, a), free(main, b)) == (10, 20)


def test_a_receipt_with_one_bad_line_writes_nothing_and_names_the_line(db, clerk, main):
    a = make_product(actor=clerk)
    with pytest.raises(InvalidInput) as caught:
        inv.create_receipt(warehouse=main, actor=clerk, token=new_token(),
                           lines=[{"product": a, "quantity": 5},
                                  {"product": a, "quantity": 2, "batch_number": "Z",
                                   "produced_on": date(2026, 6, 1),
                                   "expiry_date": date(2026, 1, 1)}])
    assert caught.value.field == "lines-1-expiry_date" and "第 2 行" in caught.value.message
    with pytest.raises(InvalidInput, match="至少"):
        inv.create_receipt(warehouse=main, actor=clerk, token=new_token(), lines=[{}, {}])


def test_transfer_and_scrap_documents(db, clerk, main):
    product = make_product(actor=clerk)
    venue = make_warehouse(actor=clerk)
    receive(product, 10, main, clerk)
    transfer = inv.create_transfer(warehouse=main, to_warehouse=venue, actor=clerk,
                                   token=new_token(), lines=lines((product, 6)))
    assert transfer.number.startswith("DB")
    with pytest.raises(InvalidInput, match="原因"):
        inv.create_scrap(warehouse=venue, actor=clerk, token=new_token(), note=" ",
                         lines=lines((product, 1)))
    scrap = inv.create_scrap(warehouse=venue, actor=clerk, token=new_token(), note="包装破损",
                             lines=lines((product, 1)))
    assert scrap.number.startswith("BS")
    assert (free(main, product), free(venue, product)) == (4, 5)


def test_reversing_a_document_reverses_every_line_once(db, clerk, main):
    a, b = make_product(actor=clerk), make_product(actor=clerk)
    receipt = inv.create_receipt(warehouse=main, actor=clerk, token=new_token(),
                                 lines=lines((a, 3), (b, 4)))
    with pytest.raises(InvalidInput):
        inv.reverse_document(receipt, actor=clerk, note="")
    inv.reverse_document(receipt, actor=clerk, note="供应商送错货")
    assert inv.is_reversed(receipt) and (free(main, a), free(main, b)) == (0, 0)
    with pytest.raises(Conflict, match="已经冲销"):
        inv.reverse_document(receipt, actor=clerk, note="再来一次")


# --- Stock counts ---------------------------------------------------------------------------

def test_a_count_posts_its_differences_and_accounts_for_moves_during_it(db, clerk, main):
    a, b = make_product("蜂胶", actor=clerk), make_product("鱼油", actor=clerk)
    receive(a, 10, main, clerk)
    receive(b, 5, main, clerk)
    count = inv.start_count(main, actor=clerk)
    [line_a] = inv.find_count_lines(count, "蜂胶")
    [line_b] = inv.find_count_lines(count, "鱼油")
    assert (line_a.book, line_b.book) == (10, 5)
    # While the clerks count, 3 of a are sold and 2 of b received.
    inv.issue(product=a, quantity=3, warehouse=main, reason="sale_issue", actor=clerk)
    receive(b, 2, main, clerk)
    inv.enter_counted(count, line_a.id, 9, actor=clerk)   # one box of a missing
    inv.enter_counted(count, line_b.id, 6, actor=clerk)   # one box of b found
    assert inv.progress(count) == {"lines": 2, "counted": 2, "differences": 2}
    moves = inv.post_count(count, actor=clerk)
    assert sorted((m.product_id, m.from_location.kind) for m in moves) == sorted(
        [(a.id, "stock"), (b.id, "adjustment")])
    assert (free(main, a), free(main, b)) == (6, 8)  # 10-3-1, 5+2+1
    assert count.status == "posted"
    with pytest.raises(Conflict, match="已过账"):
        inv.post_count(count, actor=clerk)
    with pytest.raises(Conflict, match="已过账"):
        inv.enter_counted(count, line_a.id, 1, actor=clerk)
    assert check_ledgers()["stock"] == []


def test_a_product_not_in_the_warehouse_cannot_be_counted(db, clerk, main):
    a, elsewhere = make_product("蜂胶", actor=clerk), make_product("螺旋藻", actor=clerk)
    receive(a, 1, main, clerk)
    count = inv.start_count(main, actor=clerk)
    with pytest.raises(NotFound, match="不在"):
        inv.find_count_lines(count, "螺旋藻")
    other = inv.start_count(make_warehouse(actor=clerk), actor=clerk)
    [line] = inv.count_lines(count)
    with pytest.raises(NotFound):
        inv.enter_counted(other, line.id, 1, actor=clerk)
    assert elsewhere.id


def test_posting_needs_counted_lines_and_confirmation_for_the_rest(db, clerk, main):
    a, b = make_product(actor=clerk), make_product(actor=clerk)
    receive(a, 2, main, clerk)
    receive(b, 2, main, clerk)
    count = inv.start_count(main, actor=clerk)
    with pytest.raises(Conflict, match="尚未完成"):
        inv.start_count(main, actor=clerk)
    with pytest.raises(InvalidInput, match="还没有"):
        inv.post_count(count, actor=clerk)
    inv.enter_counted(count, inv.count_lines(count)[0].id, 2, actor=clerk)
    with pytest.raises(InvalidInput, match="1 行"):
        inv.post_count(count, actor=clerk)
    assert inv.post_count(count, actor=clerk, uncounted_as_book=True) == []
    again = inv.start_count(main, actor=clerk)
    with pytest.raises(InvalidInput, match="0 或以上"):
        inv.enter_counted(again, inv.count_lines(again)[0].id, -1, actor=clerk)


# --- Views and the ledger check -------------------------------------------------------------

def test_stock_on_hand_splits_free_and_held_and_values_at_cost(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 10, main, clerk, unit_cost=5000)
    move = inv.take(product=product, quantity=3, source=inv.location_of(main),
                    target=inv.location_of(main, "custody"), reason="custody_deposit",
                    actor=clerk)
    assert move[0].to_location.label.endswith("代客保管")
    [row] = inv.stock_on_hand(main)
    assert (row["free"], row["held"], row["total"], row["value"]) == (7, 3, 10, 50000)


def test_near_expiry_expired_and_below_threshold(db, clerk, main):
    product = make_product(actor=clerk, low_stock_threshold=5)
    receive(product, 2, main, clerk, number="N", expiry=TODAY + timedelta(days=10))
    receive(product, 1, main, clerk, number="X", expiry=TODAY - timedelta(days=2))
    receive(product, 9, main, clerk, number="F", expiry=TODAY + timedelta(days=400))
    near, expired = inv.expiring(TODAY, within_days=30)
    assert [r["batch"].number for r in near] == ["N"] and near[0]["days_left"] == 10
    assert [r["batch"].number for r in expired] == ["X"]
    assert inv.below_threshold() == []
    inv.issue(product=product, quantity=8, warehouse=main, reason="sale_issue", actor=clerk)
    assert [(p.id, q) for p, q in inv.below_threshold()] == [(product.id, 4)]  # 1 expired + 3


def test_the_days_moves_and_a_products_history(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 5, main, clerk)
    inv.issue(product=product, quantity=1, warehouse=main, reason="sale_issue", actor=clerk)
    from formatting import local_day
    today = db.session.scalars(inv.moves_query(day=local_day(utcnow()))).all()
    assert [m.reason for m in today] == ["sale_issue", "receipt"]
    assert db.session.scalars(inv.moves_query(day=local_day(utcnow()) - timedelta(days=1))
                              ).all() == []
    assert len(db.session.scalars(inv.moves_query(product=product)).all()) == 2


def test_check_ledgers_finds_a_tampered_balance(db, clerk, main):
    product = make_product(actor=clerk)
    receive(product, 5, main, clerk)
    assert check_ledgers()["stock"] == []
    quant = db.session.scalar(select(inv.StockQuant).where(
        inv.StockQuant.product_id == product.id))
    quant.quantity = 7
    db.session.flush()
    [problem] = check_ledgers()["stock"]
    assert "balance 7, moves sum to 5" in problem


def test_dates_far_outside_a_products_life_are_refused(db, clerk, main):
    product = make_product(actor=clerk, shelf_life_days=730)
    with pytest.raises(InvalidInput, match="有效的日期"):
        receive(product, 1, main, clerk, produced_on=date(9999, 12, 31))
