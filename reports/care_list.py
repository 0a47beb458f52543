"""The birthday care list (生日关怀名单): customers whose birthday falls in a period, per
marketer, with age, lunar date, owner, last contact and a suggested gift — printed for the
marketer or the department."""
from flask_babel import gettext as _, lazy_gettext as _l

from formatting import local_dt, masked_phone
from models.base import utcnow
from models.customers import lunar_label
from reports import render_pdf

#: Suggested gift by age reached (a round birthday gets more).
GIFTS = ((80, _l("Longevity peach gift box and a card")),
         (70, _l("Longevity noodle gift box and a card")),
         (60, _l("Birthday cake voucher and a card")), (0, _l("A card and a greeting call")))
ROUND_BIRTHDAY = _l("Round-birthday gift pack and a visit")


def suggested_gift(age):
    if age and age % 10 == 0:
        return str(ROUND_BIRTHDAY)
    for floor, gift in GIFTS:
        if (age or 0) >= floor:
            return str(gift)
    return str(GIFTS[-1][1])


def gather(rows, *, start, end, marketer, printed_by):
    groups = {}
    for row in rows:
        customer = row["customer"]
        owner = customer.owner.display_name if customer.owner else _("Public pool")
        groups.setdefault(owner, []).append({
            "date": f"{row['date'].month}月{row['date'].day}日",
            "name": customer.name,
            "age": _("about %(n)s", n=row["age"]) if row["age"] and customer.birth_year_estimated
            else row["age"] or "",
            "lunar": lunar_label(customer.lunar_month, customer.lunar_day, customer.lunar_leap)
            if customer.birthday_kind == "lunar" else "",
            "note": row["note"], "phone": masked_phone(customer.phone),
            "last_contact": local_dt(customer.last_contact_at, "%Y-%m-%d")
            if customer.last_contact_at else _("never"),
            "gift": suggested_gift(row["age"])})
    return {"title": _("Birthday care list"),
            "period": f"{start.isoformat()} — {end.isoformat()}",
            "marketer": marketer.display_name if marketer else _("All I may see"),
            "groups": sorted(groups.items()), "total": len(rows),
            "printed_by": printed_by, "printed_at": utcnow()}


def build(data):
    return render_pdf("print/care_list.html", data)
