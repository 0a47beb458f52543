"""A small company with one of every kind of record, in two departments and two events, so
route-walking tests (hostile input, access control) can fill every URL id with a real row.

`build_world()` returns a World: the users by name (`w.users["m1"]`), the URL values of the rows
inside department 1 / event 1 (`w.ids`, argument name → value) and the rows of the other
department / event (`w.other_ids`). Everything is flushed, never committed.
"""
from dataclasses import dataclass, field
from datetime import time

from extensions import db
from models.base import new_token, utcnow
from models.clock import local_day
from tests.factories import (company_today, make_customer, make_department, make_event,
                             make_product, make_user, make_warehouse)


@dataclass
class World:
    users: dict = field(default_factory=dict)
    #: URL argument → value of a row in department 1 / event 1 (owner m1).
    ids: dict = field(default_factory=dict)
    #: URL argument → value of the same kind of row in department 2 / event 2 (owner m2).
    other_ids: dict = field(default_factory=dict)


def _sales_side(w, marketer, department, event, warehouse, product, gift, ids, name):
    """A customer of `marketer` invited to `event` and checked in, an order with a payment and
    goods left in custody, a gift, points redeemed, a task, a contact, an after-sales ticket."""
    from models import checkin, custody, events, gifts, order_taking, orders, points, redemptions
    from models import referrals
    from models.tasks import Task, write_tasks
    manager, clerk = w.users["manager"], w.users["warehouse"]
    customer = make_customer(marketer, name=name)
    invitation = events.invite(event, customer, actor=marketer)
    events.change_invitation(invitation, "confirmed", actor=marketer)
    checkin.check_in(event, invitation, actor=manager, token=new_token())
    order = order_taking.create_order(
        customer, actor=marketer, token=new_token(), warehouse=warehouse, channel="event",
        event=event, lines=[{"product": product, "quantity": 1},
                            {"product": product, "quantity": 3, "held": True}])
    payment = orders.receive_payment(order, amount=order.total // 2, method="cash",
                                     actor=marketer, token=new_token())
    issue = gifts.issue_attendance_gifts(event, customer, actor=manager, token=new_token())
    line = next(line for line in order.lines if line.held)
    pickup = custody.pick_up(customer, {line.id: 1}, actor=manager, token=new_token(),
                             release_reason="测试")
    db.session.flush()
    entry = db.session.scalar(db.select(custody.CustodyEntry).where(
        custody.CustodyEntry.customer_id == customer.id,
        custody.CustodyEntry.kind == "pickup"))
    points.adjust(customer, 1000, reason="开户礼", actor=manager, token=new_token())
    redemption = redemptions.redeem(customer, [(gift, 1)], warehouse=warehouse, actor=clerk,
                                    token=new_token())
    write_tasks([{"kind": "callback", "customer_id": customer.id, "assignee_id": marketer.id,
                  "department_id": department.id, "due_date": company_today(),
                  "title": "回访"}])
    task = db.session.scalar(db.select(Task).where(Task.customer_id == customer.id))
    # An after-sales ticket about the order (a repair), with a note.
    from models import aftersales
    ticket = aftersales.open_ticket(customer, kind="repair", description="按摩椅不转",
                                    assignee_id=marketer.id, actor=marketer, token=new_token(),
                                    order_id=order.id, product_id=product.id)
    aftersales.add_note(ticket, text="已约师傅", actor=marketer, token=new_token())
    # A friend the customer brought, whose referral gift is owed (out of stock at the time).
    friend = make_customer(marketer, name=name + "的朋友")
    reward = referrals.ReferralReward(referred_id=friend.id, referrer_id=customer.id,
                                      trigger="buy", kind="gift", status="owed",
                                      product_id=gift.id, quantity=1, warehouse_id=warehouse.id,
                                      note="缺货")
    db.session.add(reward)
    db.session.flush()
    ids.update(reward_id=reward.id)
    # A WeChat message for the customer, to send from the marketer's phone ("Today").
    from models import messages
    message = messages.queue_customer_message(customer, text="{称呼}您好，明天见。",
                                              channel="wechat", actor=marketer,
                                              token=new_token())
    ids.update(message_id=message.id)
    ids.update(customer_id=customer.id, order_id=order.id, payment_id=payment.id,
               invitation_id=invitation.id, event_id=event.id,
               issue_id=(issue[0] if isinstance(issue, list) else issue).id,
               pickup_id=pickup.id, entry_id=entry.id, redemption_id=redemption.id,
               task_id=task.id, ticket_id=ticket.id)
    return customer


def build_world(customer_name="顾客一", marketer_name="业务员一"):
    """The sample company; the names of department 1's customer and marketer may be given (to
    see how hostile names are shown)."""
    from models import customer_import, customers, events, gifts, inventory as inv, orders
    from reports.xlsx import write_workbook
    w = World()
    hq = make_department("总部")
    d1, d2 = make_department("销售一部", parent=hq), make_department("销售二部", parent=hq)
    door = make_department("会务部", parent=hq)
    u = w.users
    u["admin"] = make_user(["admin"], department=hq, display_name="管理员")
    u["manager"] = make_user(["manager"], department=hq, display_name="经理")
    u["head1"] = make_user(["dept_head"], department=d1, display_name="主管一")
    u["head2"] = make_user(["dept_head"], department=d2, display_name="主管二")
    u["m1"] = make_user(["marketer"], department=d1, display_name=marketer_name)
    u["m2"] = make_user(["marketer"], department=d2, display_name="业务员二")
    u["staff1"] = make_user(["event_staff"], department=door, display_name="会务一")
    u["staff2"] = make_user(["event_staff"], department=door, display_name="会务二")
    u["warehouse"] = make_user(["warehouse"], department=hq, display_name="仓管")
    u["finance"] = make_user(["finance"], department=hq, display_name="财务")
    #: The user the admin's user pages act on (never signed in as, so may be deactivated).
    u["spare"] = make_user(["marketer"], department=d1, display_name="备用")
    manager, clerk = u["manager"], u["warehouse"]

    warehouse = make_warehouse("总仓", actor=clerk)
    product = make_product("灵芝孢子粉", actor=clerk)
    gift = make_product("保温杯", actor=clerk, is_gift=True, for_sale=False, redeemable=True,
                        points_price=100)
    document = inv.create_receipt(warehouse=warehouse, actor=clerk, token=new_token(),
                                  lines=[{"product": product, "quantity": 100,
                                          "batch_number": "B1"},
                                         {"product": gift, "quantity": 100,
                                          "batch_number": "G1"}])
    other_wh = make_warehouse("分仓", actor=clerk)
    inv.create_receipt(warehouse=other_wh, actor=clerk, token=new_token(),
                       lines=[{"product": product, "quantity": 5, "batch_number": "B2"}])
    count = inv.start_count(other_wh, actor=clerk, token=new_token())
    db.session.flush()
    package = orders.save_package(None, name="小单", price=30000, actor=manager,
                                  items=[(product, 2)])

    e1, e2 = make_event(manager, title="讲座一"), make_event(manager, title="讲座二")
    events.set_event_staff(e1, [u["staff1"]], actor=manager)
    events.set_event_staff(e2, [u["staff2"]], actor=manager)
    for event in (e1, e2):
        gifts.set_event_warehouse(event, warehouse, actor=manager)
        gifts.save_rule(None, event=event, kind="attendance", product=gift, quantity=1,
                        actor=manager, name="到场礼")
    cost = events.add_cost(e1, kind="venue", amount_fen=50000, actor=manager)
    events.save_table(e1, number=1, seats=10, actor=manager)
    points = [events.add_pickup_point(event, name="小区门口", pickup_time=time(8, 0),
                                      actor=manager) for event in (e1, e2)]
    rule = db.session.scalar(db.select(gifts.GiftRule).where(gifts.GiftRule.event_id == e1.id))

    _sales_side(w, u["m1"], d1, e1, warehouse, product, gift, w.ids, customer_name)
    _sales_side(w, u["m2"], d2, e2, warehouse, product, gift, w.other_ids, "顾客二")
    # A message template, and a message queued from it to each department's guests.
    from models import messages
    reminder = messages.save_template(None, name="会前提醒", purpose="reminder",
                                      body="{称呼}您好，{会议名称}定于{时间}在{地点}举行。",
                                      actor=u["admin"])
    for event, ids in ((e1, w.ids), (e2, w.other_ids)):
        guest = db.session.get(messages.Customer, ids["customer_id"])
        queued = messages.queue_message(
            guest, text=f"{guest.name}您好，{event.title}明天见。", channel="sms",
            template=reminder, subject_key=messages.event_subject(event), event=event,
            made_by=manager)
        ids.update(template_id=reminder.id, message_id=queued.id)

    close = orders.close_day(u["m2"], local_day(utcnow()), declared={"cash": 0},
                             actor=u["finance"])
    template = write_workbook(*customer_import.template_sheet())
    batch = customer_import.upload("名单.xlsx", template,
                                   actor=u["m1"])
    tag = customers.add_list_item("tag", "高血压", actor=manager)
    radio = customers.add_list_item("channel", "电台讲座", actor=manager)
    campaign = customers.record_channel_cost(radio.id, month=local_day(utcnow()),
                                             amount_fen=500000, actor=u["finance"],
                                             token=new_token())
    db.session.flush()
    shared = dict(user_id=u["spare"].id, department_id=d1.id, filename="css/app.css",
                  kind="tag", item_id=tag.id, cost_id=cost.id, product_id=product.id,
                  warehouse_id=warehouse.id, document_id=document.id, count_id=count.id,
                  line_id=inv.count_lines(count)[0].id, close_id=close.id,
                  package_id=package.id, rule_id=rule.id, key="sales", token=batch.token,
                  channel_cost_id=campaign.id, role="marketer", code="points")
    w.ids = {**shared, **w.ids, "point_id": points[0].id}
    w.other_ids = {**shared, **w.other_ids, "department_id": d2.id, "point_id": points[1].id}
    other_batch = customer_import.upload("名单二.xlsx", template,
                                         actor=u["m2"])
    db.session.flush()
    w.other_ids["token"] = other_batch.token
    return w


def fill(rule, values):
    """The path of a url_map rule with its arguments taken from `values`."""
    path = rule.rule
    for arg in rule.arguments:
        assert arg in values, f"tests/world.py has no sample row for <{arg}> of {rule.rule}: " \
                              "add one to build_world()"
        for converter in ("int:", "path:", ""):
            path = path.replace(f"<{converter}{arg}>", str(values[arg]))
    return path


def table_counts():
    """{table name: row count} of every table, in one query."""
    from sqlalchemy import func, literal, select, union_all
    tables = db.metadata.sorted_tables
    query = union_all(*[select(literal(t.name).label("name"),
                               func.count().label("n")).select_from(t) for t in tables])
    return dict(db.session.execute(query).all())


def sign_in_as(client, user):
    """Sign the test client out of whoever it was and in as `user` (password of the factories)."""
    from tests.factories import PASSWORD
    client.post("/auth/logout")
    response = client.post("/auth/login", data={"username": user.username,
                                                "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
