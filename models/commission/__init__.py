"""Commission (提成, #27 §2): what each marketer earns on the money collected in a month, computed
in a monthly run that finance approves and that is then locked.

Definitions (each tested against a hand computation in tests/models/test_commission.py):
- The rules are settings a manager edits (报表 → 提成规则, or 系统设置; audited): a default rate on
  money collected (basis points: 300 = 3 %), rates per product category and per package (a
  small table, commission_rates), tiers by the attainment of the month's money-collected target
  (commission.tiers: "0:80, 80:100, 120:120" — from 0 % ×0.8, from 80 % ×1.0, from 120 %
  ×1.2), and the developer's share (1 % of the customer's payments for 12 months).
- The base is money, not sales: each payment received on an order credited to the marketer
  (deposit, balance, full payment) is a + line, a refund a − line, and a reversal counts with
  the sign of the kind it reverses — each in the month of its `Payment.at` (company days), so a
  refund in a later month claws back in that month. Returns are listed with their value and
  earn nothing: their money comes back through the refund line (never clawed back twice).
- The rate of a payment on an order is the order lines' rates weighted by their value
  (quantity × unit price − discount), to the nearest basis point: a line's rate is its
  package's, else its product category's, else the default. An order without lines (an
  opening debt) has the default.
- The tier: attainment = the month's money collected (the targets page's figure: money
  received, less reversals of it; refunds apart) ÷ the marketer's money-collected target of
  the month; the multiplier is that of the highest tier reached, ×1.0 without a target or
  below the lowest tier. It applies to the seller's lines of the month, refunds included.
- Commission of a line = base × rate × multiplier, in fen, rounded half away from zero.
- The developer of a customer is the marketer who first brought them: the to_owner of the
  customer's first "create" ownership change (kept after transfers and the pool). When the
  developer is not the order's marketer and the payment is dated before the same day N months
  after the registration, the developer earns the share on it (no tier), and loses it on
  refunds the same way.
- The run (commission_runs, commission_lines) is one per month, for every marketer; a draft
  is recomputed at will (by a manager or finance); finance approves it, which locks it: a
  locked month is never recomputed. Approval is refused while the month is not over and when
  the draft is stale (a payment recorded since it was computed, or the rules or the month's
  targets changed). Months are approved one after the other, from the first run's month —
  the first run bounds history: payments dated before it never count.
- A payment recorded after its month was locked (back-dated, or entered late) goes into the
  next run computed, as a late line at the multiplier its own month was locked with: never
  lost, and never twice (a line keeps its payment id, unique over the locked lines).

The 考核表 that shows a month's commission beside the targets and the company's reward and
penalty rules is a report: reports/assessment.py.
"""
from models.commission.tables import (  # noqa: F401
    FULL_RATE_BP, LINE_ROLES, RATE_SCOPES, RUN_STATUSES, CommissionLine, CommissionRate,
    CommissionRun)
from models.commission.rules import (  # noqa: F401
    RULE_EDITORS, SETTING_KEYS, bp_of_percent, check_rate, current_rules, line_rate,
    order_rate, parse_tiers, percent, rate_table, save_rules, tier_multiplier, tiers_text)
from models.commission.runs import (  # noqa: F401
    ALL_MARKETERS, APPROVE_ROLES, COMPUTE_ROLES, add_months, approve_run, check_month,
    compute_run, discard_run, first_month, lines_of, marketer_clause, marketer_or_404,
    marketers_seen, month_bounds, month_label, next_month, parse_month, previous_month,
    run_of, stale_reason, totals)
