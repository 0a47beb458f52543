"""The campaign-cost ledger per source channel and month: entered once per token, corrected only
by a reversal, refused with a clear message (nothing written) for bad input or the wrong role."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from models import customers as c
from models.audit import AuditEntry
from models.base import Conflict, InvalidInput, PermissionDenied, new_token, utcnow
from models.clock import local_day
from models.ledgers import check_ledgers


def entries():
    from extensions import db
    return db.session.scalar(select(func.count()).select_from(c.ChannelCost))


def test_an_entry_once_per_token_then_reversed_once(db, shop):
    radio = c.add_list_item("channel", "电台讲座", actor=shop.manager)
    this_month = local_day(utcnow()).replace(day=1)
    token = new_token()
    first = c.record_channel_cost(radio.id, month=local_day(utcnow()), amount_fen=500000,
                                  note="十二月电台", actor=shop.finance, token=token)
    again = c.record_channel_cost(radio.id, month=local_day(utcnow()), amount_fen=500000,
                                  actor=shop.finance, token=token)  # a double tap
    assert again.id == first.id and entries() == 1
    assert first.month == this_month  # stored as the month's first day
    c.record_channel_cost(radio.id, month=this_month, amount_fen=80000, actor=shop.manager,
                          token=new_token())
    assert c.channel_costs(this_month, this_month) == {radio.id: 580000}
    reversal = c.reverse_channel_cost(first, reason="金额录错", actor=shop.manager)
    assert (reversal.amount_fen, reversal.reverses_id, reversal.month) == \
        (-500000, first.id, this_month)
    assert c.channel_costs(this_month, this_month) == {radio.id: 80000}
    with pytest.raises(Conflict):
        c.reverse_channel_cost(first, reason="再来一次", actor=shop.manager)
    with pytest.raises(Conflict):
        c.reverse_channel_cost(reversal, reason="冲销的冲销", actor=shop.manager)
    assert [e.action for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action.like("channel_cost.%")).order_by(AuditEntry.id))] == \
        ["channel_cost.add", "channel_cost.add", "channel_cost.reverse"]
    assert check_ledgers()["channel costs"] == []
    [(entry, reversed_by)] = [row for row in c.channel_cost_entries(this_month, this_month)
                              if row[0].id == first.id]
    assert reversed_by == reversal.id


@pytest.mark.parametrize("who, kwargs, error", [
    ("marketer", {}, PermissionDenied),
    ("head", {}, PermissionDenied),
    ("finance", {"amount_fen": 0}, InvalidInput),
    ("finance", {"amount_fen": -100}, InvalidInput),
    ("finance", {"amount_fen": 1_000_000_001}, InvalidInput),
    ("finance", {"month": None}, InvalidInput),
    ("finance", {"month": date(1999, 12, 1)}, InvalidInput),
    ("finance", {"next_month": True}, InvalidInput),
    ("finance", {"channel_id": 0}, InvalidInput),
    ("finance", {"channel_id": 999999}, InvalidInput),
])
def test_bad_entries_are_refused_and_write_nothing(db, shop, who, kwargs, error):
    radio = c.add_list_item("channel", "电台讲座", actor=shop.manager)
    values = {"channel_id": radio.id, "month": local_day(utcnow()), "amount_fen": 10000}
    if kwargs.pop("next_month", False):
        values["month"] = local_day(utcnow()).replace(day=28) + timedelta(days=5)
    values.update(kwargs)
    channel_id = values.pop("channel_id")
    with pytest.raises(error) as refused:
        c.record_channel_cost(channel_id, **values, actor=getattr(shop, who),
                              token=new_token())
    assert refused.value.message  # a sentence to show, not a code
    assert entries() == 0


def test_a_reversal_needs_a_reason_and_the_role(db, shop):
    radio = c.add_list_item("channel", "电台讲座", actor=shop.manager)
    entry = c.record_channel_cost(radio.id, month=local_day(utcnow()), amount_fen=10000,
                                  actor=shop.finance, token=new_token())
    with pytest.raises(InvalidInput):
        c.reverse_channel_cost(entry, reason="  ", actor=shop.finance)
    with pytest.raises(PermissionDenied):
        c.reverse_channel_cost(entry, reason="错了", actor=shop.marketer)
    assert entries() == 1
