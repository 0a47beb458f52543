"""Referral rewards as points or a gift product (once per referred customer; owed, never
negative stock, while out of stock) and redemptions left in custody (collected like goods
bought; a reversal takes them back out of custody only while they are still held)."""
import pytest
from sqlalchemy import func, select

from extensions import db as _db
from models import custody as cu, door, events as ev, gifts as gf, inventory as inv, \
    points as pt, redemptions, referrals
from models.base import Conflict, InvalidInput, new_token
from models.ledgers import check_ledgers
from models.settings import update_settings
from models.tasks import Task
from models.timeline import timeline_of
from tests.factories import (make_customer, make_event, make_order, make_stocked_product,
                             make_user, make_warehouse)


pytestmark = pytest.mark.shop(price=10000, cup_stock=3)


@pytest.fixture
def friend(shop):
    """李阿姨, whom the shop's customer referred, owned by another marketer."""
    return make_customer(make_user(["marketer"]), name="李阿姨", referrer_id=shop.customer.id,
                         actor=shop.manager)


def clean():
    return {name: problems for name, problems in check_ledgers().items() if problems} == {}


def gift_rewards(admin, cup, quantity=2, trigger="buy"):
    update_settings({"points.referral_reward": "gift", "points.referral_gift_sku": cup.sku,
                     "points.referral_gift_quantity": quantity,
                     "points.referral_trigger": trigger}, actor=admin)


def referral_issues():
    return _db.session.scalars(select(gf.GiftIssue).where(gf.GiftIssue.kind == "referral")).all()


def free(warehouse, product):
    return inv.quantity_in(inv.location_of(warehouse), product)


def test_a_referral_gift_is_issued_once_through_the_gift_ledger(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    gift_rewards(admin, cup)
    make_order(friend, warehouse=warehouse, actor=manager,
               lines=[{"product": product, "quantity": 1}])
    [issue] = referral_issues()
    assert (issue.customer_id, issue.quantity, issue.cost) == (referrer.id, 2, 3000)
    assert issue.marketer_id == marketer.id  # the referrer's marketer is charged with it
    assert gf.marketer_gift_cost(marketer.id) == 3000
    assert free(warehouse, cup) == 1
    assert pt.balance_of(referrer.id) == 0  # a gift instead of points
    [reward] = referrals.rewards_of(referrer)
    assert (reward.kind, reward.status, reward.gift_issue_id) == ("gift", "given", issue.id)
    assert any("转介绍奖励" in item.title and "保温杯" in item.title
               for item in timeline_of(referrer))
    # A second purchase (and a second call) writes nothing.
    make_order(friend, warehouse=warehouse, actor=manager,
               lines=[{"product": product, "quantity": 1}])
    assert referrals.reward_referral(friend, trigger="buy", actor=manager) is None
    assert len(referral_issues()) == 1 and free(warehouse, cup) == 1
    assert _db.session.scalar(select(func.count(referrals.ReferralReward.id))) == 1
    assert clean()


def test_out_of_stock_the_gift_is_owed_with_a_task_never_negative_stock(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    gift_rewards(admin, cup, quantity=5)  # only 3 in stock
    update_settings({"inventory.allow_negative_stock": True}, actor=admin)
    order = make_order(friend, warehouse=warehouse, actor=manager,
                       lines=[{"product": product, "quantity": 1}])
    assert order.id  # the sale went through
    assert referral_issues() == [] and free(warehouse, cup) == 3
    [reward] = referrals.rewards_of(referrer)
    assert reward.status == "owed" and "缺货" in reward.note
    [task] = _db.session.scalars(select(Task).where(Task.kind == "referral_gift")).all()
    assert (task.customer_id, task.assignee_id, task.status) == (referrer.id, marketer.id,
                                                                 "open")
    assert any("转介绍赠品待补" in item.title for item in timeline_of(referrer))
    # Still short: refused, nothing written.
    with pytest.raises(Conflict, match="仍欠"):
        referrals.give_referral_gift(reward, actor=manager, token=new_token())
    assert referral_issues() == [] and free(warehouse, cup) == 3
    inv.receive(product=cup, quantity=10, warehouse=warehouse, actor=manager, batch_number="B2")
    token = new_token()
    issue = referrals.give_referral_gift(reward, actor=manager, token=token)
    assert referrals.give_referral_gift(reward, actor=manager, token=token) is issue  # resubmitted
    assert (issue.kind, issue.customer_id, issue.quantity) == ("referral", referrer.id, 5)
    assert free(warehouse, cup) == 8
    assert (reward.status, reward.gift_issue_id) == ("given", issue.id)
    _db.session.refresh(task)
    assert (task.status, task.done_by_id) == ("done", manager.id)
    with pytest.raises(Conflict, match="已经"):
        referrals.give_referral_gift(reward, actor=manager, token=new_token())
    assert len(referral_issues()) == 1
    assert clean()


def test_points_on_first_attendance_once_and_a_gift_at_the_events_warehouse(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    update_settings({"points.referral_trigger": "attend", "points.referral_bonus": 150},
                    actor=admin)
    staff = make_user(["event_staff"])
    first, second = make_event(manager), make_event(manager, title="第二场")
    door.check_in(first, ev.invite(first, friend, actor=manager), actor=staff,
                  token=new_token())
    door.check_in(second, ev.invite(second, friend, actor=manager), actor=staff,
                  token=new_token())
    assert pt.balance_of(referrer.id) == 150  # once, for the first attendance
    [reward] = referrals.rewards_of(referrer)
    assert (reward.kind, reward.points, reward.trigger) == ("points", 150, "attend")
    # Another referral, rewarded with a gift from the event's warehouse.
    venue = make_warehouse("会场仓")
    mug = make_stocked_product(venue, 4, name="马克杯", is_gift=True, for_sale=False)
    gift_rewards(admin, mug, quantity=1, trigger="attend")
    third = make_event(manager, title="第三场")
    gf.set_event_warehouse(third, venue, actor=manager)
    other = make_customer(marketer, name="赵叔", referrer_id=referrer.id)
    door.check_in(third, ev.invite(third, other, actor=marketer), actor=staff,
                  token=new_token())
    [issue] = referral_issues()
    assert (issue.event_id, issue.warehouse_id, issue.product_id) == (third.id, venue.id,
                                                                      mug.id)
    assert inv.quantity_in(inv.location_of(venue), mug) == 3
    assert pt.balance_of(referrer.id) == 150
    assert clean()


def test_the_referral_gift_setting_must_name_a_gift(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    with pytest.raises(InvalidInput, match="不是.*赠品"):
        update_settings({"points.referral_gift_sku": product.sku}, actor=admin)
    with pytest.raises(InvalidInput):
        update_settings({"points.referral_gift_sku": "NO-SUCH"}, actor=admin)
    assert referrals.referral_gift()[0] is None


def held(customer):
    return {(row["product"].name, row["key"]): (row["held"], row["pickable"])
            for row in cu.holdings(customer)}


def test_a_redemption_left_in_custody_is_collected_and_reversed_while_held(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    pt.adjust(referrer, 1000, reason="开户礼", actor=manager, token=new_token())
    redemption = redemptions.redeem(referrer, [(cup, 2)], warehouse=warehouse, actor=manager,
                                    token=new_token(), in_custody=True)
    assert redemption.in_custody and redemption.cost == 3000
    assert free(warehouse, cup) == 1
    assert inv.quantity_in(inv.location_of(warehouse, "custody"), cup) == 2
    key = f"redeemed-{redemption.id}-{cup.id}"
    assert held(referrer) == {("保温杯", key): (2, 2)}  # paid with points: all collectable
    assert clean()
    # Reversed while still held: points back, goods off the custody shelf onto free stock.
    redemptions.reverse_redemption(redemption, reason="不要了", actor=manager)
    assert pt.balance_of(referrer.id) == 1000
    assert free(warehouse, cup) == 3
    assert inv.quantity_in(inv.location_of(warehouse, "custody"), cup) == 0
    assert held(referrer) == {}
    assert clean()


def test_collected_redeemed_goods_are_not_reversed_until_the_pickup_is(db, shop, friend):
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    clerk = make_user(["warehouse"])
    pt.adjust(referrer, 1000, reason="开户礼", actor=manager, token=new_token())
    redemption = redemptions.redeem(referrer, [(cup, 2)], warehouse=warehouse, actor=manager,
                                    token=new_token(), in_custody=True)
    with pytest.raises(Conflict, match="只寄存了 2"):
        cu.pick_up(referrer, {(redemption.id, cup.id): 3}, actor=clerk, token=new_token())
    pickup = cu.pick_up(referrer, {(redemption.id, cup.id): 1}, actor=clerk, token=new_token())
    assert held(referrer) == {("保温杯", f"redeemed-{redemption.id}-{cup.id}"): (1, 1)}
    assert inv.quantity_in(inv.location_of(warehouse, "custody"), cup) == 1
    with pytest.raises(Conflict, match="已从寄存领取"):
        redemptions.reverse_redemption(redemption, reason="不要了", actor=manager)
    assert redemption.reversed_at is None and pt.balance_of(referrer.id) == 400
    assert clean()
    # The pickup was a mistake: reversed, the goods are held again, and the redemption too.
    [entry] = _db.session.scalars(select(cu.CustodyEntry).where(
        cu.CustodyEntry.pickup_id == pickup.id)).all()
    cu.reverse_entry(entry, reason="没拿走", actor=manager)
    redemptions.reverse_redemption(redemption, reason="不要了", actor=manager)
    assert (pt.balance_of(referrer.id), free(warehouse, cup)) == (1000, 3)
    assert held(referrer) == {}
    assert clean()


def test_referral_points_that_pay_a_debt_are_still_the_one_reward(db, shop, friend):
    from models import orders as o
    warehouse, marketer, manager, admin, referrer, product, cup = (
        shop.warehouse, shop.marketer, shop.manager, shop.admin, shop.customer, shop.product,
        shop.cup)
    finance = make_user(["finance"])
    order = make_order(referrer, warehouse=warehouse, actor=manager,
                       lines=[{"product": product, "quantity": 10}])  # ¥1,000
    o.receive_payment(order, amount=100000, method="cash", actor=finance, token=new_token())
    redemptions.redeem(referrer, [(cup, 3)], warehouse=warehouse, actor=manager, token=new_token())
    o.refund(order, amount=50000, method="cash", reason="退货", actor=finance, approver=manager,
             token=new_token(), goodwill=True)
    account = _db.session.get(pt.PointsAccount, referrer.id)
    assert (account.balance, account.debt) == (0, 400)
    update_settings({"points.referral_bonus": 150}, actor=admin)
    make_order(friend, warehouse=warehouse, actor=manager,
               lines=[{"product": product, "quantity": 1}])
    assert (account.balance, account.debt) == (0, 250)
    [reward] = referrals.rewards_of(referrer)
    assert reward.points == 0 and "欠" in reward.note
    make_order(friend, warehouse=warehouse, actor=manager,
               lines=[{"product": product, "quantity": 1}])
    assert (account.balance, account.debt) == (0, 250)  # once
    assert clean()
