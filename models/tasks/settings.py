"""The settings of the nightly run and the worklists it writes; the public pool's and the
grades' too (their rules: models/customers/rules.py), which the settings page lists after them."""
from flask_babel import lazy_gettext as _l

from models.settings import define, define_area

define_area("tasks", _l("Tasks and callbacks"))
define("tasks.nightly_hour", "int", 2, _l("Nightly run at (hour, company time zone)"),
       _l("The scheduler writes the day's tasks at this hour (0–23)."), min=0, max=23)
define("tasks.plan_days", "int", 7, _l("Write tasks this many days ahead"), min=1, max=60)
define("tasks.max_attempts", "int", 3, _l("Unanswered calls before the department head is told"),
       _l("After this many 未接通 attempts at one follow-up, no next attempt is written: the "
          "head of the customer's department gets a task instead."), min=1, max=10)
define("tasks.callback_1_days", "int", 3, _l("First callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_1_text", "str", "使用指导", _l("First callback: what to ask"),
       max_length=60)
define("tasks.callback_2_days", "int", 7, _l("Second callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_2_text", "str", "效果回访", _l("Second callback: what to ask"),
       max_length=60)
define("tasks.callback_3_days", "int", 30, _l("Third callback after a purchase (days)"),
       min=1, max=365)
define("tasks.callback_3_text", "str", "余量回访", _l("Third callback: what to ask"),
       max_length=60)
define("tasks.event_follow_up_days", "int", 1, _l("Follow up after an event (days)"),
       min=1, max=30)
define("tasks.birthday_lead_days", "int", 3, _l("Birthday care: days ahead"), min=1, max=30)
define("tasks.arrears_before_days", "int", 3, _l("Arrears: remind days before the due date"),
       min=1, max=60)
define("tasks.arrears_repeat_days", "int", 7, _l("Arrears: remind again every (days)"),
       min=1, max=90)
define("tasks.repurchase_lead_days", "int", 7,
       _l("Repurchase: remind days before the goods run out"), min=1, max=90)
define_area("pool", _l("Public pool"))
define("pool.days_never_invited", "int", 30, _l("Never invited: days before the pool"),
       min=1, max=3650)
define("pool.days_never_attended", "int", 60, _l("Invited, never came: days before the pool"),
       min=1, max=3650)
define("pool.days_never_bought", "int", 90, _l("Came, never bought: days before the pool"),
       min=1, max=3650)
define("pool.warn_days", "int", 7, _l("Warn the owner days before the pool"), min=1, max=60)
define_area("grade", _l("Customer grades"))
define("grade.window_days", "int", 365, _l("Grades look back (days)"), min=1, max=3650)
define("grade.a_money_yuan", "int", 10000, _l("Grade A: paid at least (yuan)"), min=1,
       max=100_000_000)
define("grade.a_orders", "int", 3, _l("Grade A: or at least this many orders"), min=1, max=1000)
define("grade.b_orders", "int", 1, _l("Grade B: at least this many orders"),
       _l("Fewer orders (or none) in the window: grade C or D."), min=1, max=1000)
define("grade.c_arrivals", "int", 1, _l("Grade C: came to at least this many events"),
       _l("Customers below every threshold are grade D."), min=1, max=1000)
