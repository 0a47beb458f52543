"""The 考核表's figures by hand (#27 §2): whole points above the money collected target, and the
commission run's money collected is the performance report's (the tier reads the same figure
the targets page shows)."""
from datetime import timedelta

from models import commission as cm, orders as o
from models.base import new_token
from reports import assessment, performance
from reports.params import Params
from tests.models.test_commission import M1, after, moment, pay, refund, sale, shop  # noqa: F401


def test_bonus_points_are_whole_points_above_the_target():
    assert assessment.bonus_points(115000, 100000) == 15
    assert assessment.bonus_points(100999, 100000) == 0  # 100.999 %: no whole point above
    assert assessment.bonus_points(101000, 100000) == 1
    assert assessment.bonus_points(90000, 100000) == 0
    assert assessment.bonus_points(90000, None) == 0 and assessment.bonus_points(5, 0) == 0


def test_the_run_collects_what_the_performance_report_collects(db, shop):
    """Receipts, a refund, a reversed receipt and a reversed refund in one month: the run's
    money collected per marketer equals the performance figure `collections`."""
    s = shop
    first = sale(s, s["a"], health=3)
    receipt = pay(s, first, 200000, moment(M1, 3))
    pay(s, first, 50000, moment(M1, 4))
    paid_back = refund(s, first, 30000, moment(M1, 5))
    o.reverse_payment(paid_back, reason="录错", actor=s["finance"], now=moment(M1, 6))
    o.reverse_payment(receipt, reason="录错", actor=s["finance"], now=moment(M1, 7))
    second = sale(s, s["b"], health=1)
    o.receive_payment(second, amount=100000, method="cash", actor=s["finance"],
                      token=new_token(), at=moment(M1, 28), now=moment(M1, 28) +
                      timedelta(hours=1))
    run = cm.compute_run(M1, actor=s["finance"], now=after(M1))
    params = Params(s["manager"], M1, cm.next_month(M1) - timedelta(days=1))
    figures = performance.figures(params, [s["a"].id, s["b"].id], now_figures=False)
    assert {key: row["collected"] for key, row in run.summary.items()} == {
        str(s["a"].id): figures[s["a"].id]["collections"],
        str(s["b"].id): figures[s["b"].id]["collections"]}
    assert figures[s["a"].id]["collections"] == 50000
