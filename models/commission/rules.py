"""The commission rules a manager edits: the default rate, the tiers, the developer's share
and the assessment's reward and penalty (settings, on 系统设置 and on 报表 → 提成规则), and the
rates per product category and package (a small table). Every change is audited."""
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from extensions import db
from models.audit import audit, register_actions, register_targets
from models.base import InvalidInput, PermissionDenied, utcnow
from models.commission.tables import FULL_RATE_BP, RATE_SCOPES, CommissionRate
from models.settings import define, define_area, get_setting, update_settings

#: Roles that edit the rules.
RULE_EDITORS = ("admin", "manager")
#: At most this many tiers.
MAX_TIERS = 10
#: Tier bounds: attainment and multipliers in percent.
MAX_TIER_PERCENT = 1000


def parse_tiers(text, field="commission.tiers"):
    """"0:80, 80:100, 120:120" → [(0, 80), (80, 100), (120, 120)]: from this attainment of the
    month's money-collected target (percent), the commission counts at this percent. Raises
    InvalidInput with a message a manager can act on."""
    tiers = []
    for part in (text or "").replace("，", ",").replace("：", ":").split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [piece.strip() for piece in part.split(":")]
        if len(pieces) != 2 or not all(p.isascii() and p.isdecimal() for p in pieces):
            raise InvalidInput(_("Tiers are written as attainment:multiplier in percent, "
                                 "separated by commas (for example 0:80, 80:100, 120:120)."),
                               field=field)
        low, multiplier = int(pieces[0]), int(pieces[1])
        if low > MAX_TIER_PERCENT or multiplier > MAX_TIER_PERCENT:
            raise InvalidInput(_("A tier's attainment and multiplier are at most %(n)s %%.",
                                 n=MAX_TIER_PERCENT), field=field)
        tiers.append((low, multiplier))
    if len({low for low, _m in tiers}) != len(tiers):
        raise InvalidInput(_("Each tier starts at a different attainment."),
                           field=field)
    if len(tiers) > MAX_TIERS:
        raise InvalidInput(_("At most %(n)s tiers.", n=MAX_TIERS), field=field)
    return sorted(tiers)


def tiers_text(tiers):
    return ", ".join(f"{low}:{multiplier}" for low, multiplier in tiers)


def _check_tiers(value, definition):
    parse_tiers(value)


define_area("commission", _l("Commission and assessment"))
define("commission.default_rate_bp", "int", 300,
       _l("Commission: default rate (basis points: 100 = 1 %)"),
       _l("Of the money collected, for lines whose package or category has no rate of its "
          "own (报表 → 提成规则 sets those)."), min=0, max=FULL_RATE_BP)
define("commission.tiers", "str", "0:80, 80:100, 120:120",
       _l("Commission tiers (attainment:multiplier, in %)"),
       _l("By the month's money collected against its target: from 0 % ×80 %, from 80 % "
          "×100 %, from 120 % ×120 %. No target: ×100 %."), max_length=200, check=_check_tiers)
define("commission.developer_share_bp", "int", 100,
       _l("Developer's share (basis points of the customer's payments)"),
       _l("The marketer who first brought a customer earns this on the customer's payments "
          "credited to another marketer."), min=0, max=FULL_RATE_BP)
define("commission.developer_months", "int", 12, _l("Developer's share: months from "
                                                     "registration"), min=0, max=120)
define("commission.bonus_per_point_yuan", "int", 20,
       _l("Assessment: bonus per point of money collected above 100 % (yuan)"),
       min=0, max=100_000)
define("commission.deduction_per_overdue_yuan", "int", 10,
       _l("Assessment: deduction per callback late or overdue (yuan)"), min=0, max=100_000)

SETTING_KEYS = {"default_bp": "commission.default_rate_bp", "tiers": "commission.tiers",
                "developer_bp": "commission.developer_share_bp",
                "developer_months": "commission.developer_months",
                "bonus_yuan": "commission.bonus_per_point_yuan",
                "deduction_yuan": "commission.deduction_per_overdue_yuan"}

register_actions({"commission.rates": _l("Commission rates set"),
                  "commission.compute": _l("Commission computed"),
                  "commission.approve": _l("Commission approved and locked"),
                  "commission.discard": _l("Commission draft discarded")})
register_targets({"commission_runs": _l("Commission run"),
                  "commission_rates": _l("Commission rate")})


# --- Reading ----------------------------------------------------------------------------------

def bp_of_percent(value):
    """A percent (a Decimal or a string typed: "3.5") → whole basis points (350); None when
    blank. InvalidInput when it is not a number or has more than two decimals."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().rstrip("%").strip()) * 100
    except (InvalidOperation, ValueError):
        raise InvalidInput(_("A rate is a number of percent, for example 3 or 2.5.")) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise InvalidInput(_("A rate has at most two decimals (0.01 %)."))
    return int(number)


def percent(bp):
    """Basis points → a percent for display ("3.5"); None stays None."""
    if bp is None:
        return None
    return f"{Decimal(bp) / 100:f}".rstrip("0").rstrip(".") if bp % 100 else str(bp // 100)


def check_rate(bp, label, field=None):
    """A rate in basis points from 0 to 100 %, else InvalidInput naming `label`."""
    if isinstance(bp, bool) or not isinstance(bp, int):
        raise InvalidInput(_("%(label)s: a rate is a number of percent.", label=label),
                           field=field)
    if bp < 0:
        raise InvalidInput(_("%(label)s: a rate cannot be below 0 %%.", label=label),
                           field=field)
    if bp > FULL_RATE_BP:
        raise InvalidInput(_("%(label)s: a rate cannot be above 100 %%.", label=label),
                           field=field)
    return bp


def rate_table():
    """{(scope, subject id): basis points} of the rates set per category and package."""
    return {(scope, subject_id): rate for scope, subject_id, rate in db.session.execute(
        select(CommissionRate.scope, CommissionRate.subject_id, CommissionRate.rate_bp))}


def current_rules():
    """The rules a run is computed with, as plain data (stored on the run)."""
    return {"default_bp": get_setting("commission.default_rate_bp"),
            "tiers": [list(t) for t in parse_tiers(get_setting("commission.tiers"))],
            "developer_bp": get_setting("commission.developer_share_bp"),
            "developer_months": get_setting("commission.developer_months"),
            "rates": {f"{scope}:{subject_id}": rate
                      for (scope, subject_id), rate in sorted(rate_table().items())}}


def tier_multiplier(collected, target, tiers):
    """The percent the month's commission counts at: the tier of the highest attainment
    reached (collected × 100 ≥ attainment × target, in whole fen: no rounding); 100 without a
    target, or below the lowest tier."""
    if not target:
        return 100
    multiplier = 100
    for low, tier in sorted(tiers):
        if collected * 100 >= low * target:
            multiplier = tier
    return multiplier


def line_rate(package_id, category_id, rules):
    """The rate of one order line: its package's, else its product category's, else the
    default (basis points)."""
    rates = rules["rates"]
    if package_id is not None and f"package:{package_id}" in rates:
        return rates[f"package:{package_id}"]
    if category_id is not None and f"category:{category_id}" in rates:
        return rates[f"category:{category_id}"]
    return rules["default_bp"]


def order_rate(lines, rules):
    """The rate of a payment on an order: its lines' rates weighted by the lines' value
    (quantity × price − discount), to the nearest basis point (half up); the default when the
    order has no line of any value (an opening debt). `lines`: [(package id, category id,
    value)]."""
    value = sum(amount for _p, _c, amount in lines if amount > 0)
    if value <= 0:
        return rules["default_bp"]
    weighted = sum(amount * line_rate(package_id, category_id, rules)
                   for package_id, category_id, amount in lines if amount > 0)
    return (2 * weighted + value) // (2 * value)


# --- Writing ----------------------------------------------------------------------------------

def save_rules(*, default_bp, tiers, developer_bp, developer_months, bonus_yuan,
               deduction_yuan, rates, labels=None, fields=None, actor, now=None):
    """Set the commission rules: the rates in basis points (`rates`: {(scope, subject id): bp,
    or None to use the default}), the tiers as text (parse_tiers), the developer's share and
    months, the assessment's bonus and deduction in yuan. All or nothing; audited (the settings
    as settings changes, the rate table as commission.rates). `labels` names each rate's
    category or package in messages, `fields` the form field a refusal is shown beside (the
    rules page's names). Returns the number of things changed."""
    if not actor.has_role(*RULE_EDITORS):
        raise PermissionDenied(_("Only a manager sets the commission rules."))
    labels, fields = labels or {}, fields or {}
    check_rate(default_bp, _("Default rate"), "default_rate")
    check_rate(developer_bp, _("Developer's share"), "developer_rate")
    for key, bp in rates.items():
        if key[0] not in RATE_SCOPES:
            raise InvalidInput(_("Unknown rate."))
        if bp is not None:
            check_rate(bp, labels.get(key, RATE_SCOPES[key[0]]), fields.get(key))
    parse_tiers(tiers, field="tiers")
    now = now or utcnow()
    changed = update_settings({
        "commission.default_rate_bp": default_bp, "commission.tiers": tiers,
        "commission.developer_share_bp": developer_bp,
        "commission.developer_months": developer_months,
        "commission.bonus_per_point_yuan": bonus_yuan,
        "commission.deduction_per_overdue_yuan": deduction_yuan}, actor=actor, now=now)
    rows = {(row.scope, row.subject_id): row for row in db.session.scalars(
        select(CommissionRate).with_for_update())}
    before, after = {}, {}
    for key, bp in rates.items():
        row = rows.get(key)
        old = row.rate_bp if row is not None else None
        if old == bp:
            continue
        name = str(labels.get(key, f"{key[0]} #{key[1]}"))
        before[name], after[name] = percent(old), percent(bp)
        if bp is None:
            db.session.delete(row)
        elif row is None:
            db.session.add(CommissionRate(scope=key[0], subject_id=key[1], rate_bp=bp,
                                          set_by_id=actor.id, set_at=now))
        else:
            row.rate_bp, row.set_by_id, row.set_at = bp, actor.id, now
    db.session.flush()
    if after:
        audit(actor, "commission.rates", None, summary="、".join(after), before=before,
              after=after, now=now)
    return len(changed) + len(after)
