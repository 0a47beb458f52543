"""The search cases the server and the door tablet are both held to: tests/data/
door_search_cases.json, read by tests/models/test_door_search.py (the server's search) and
tests/browser/test_door_search.py (the tablet's offline search)."""
import json
from pathlib import Path

from extensions import db
from models import customers as c, events as ev
from tests.factories import company_today

CASES = json.loads((Path(__file__).parent / "data" / "door_search_cases.json")
                   .read_text(encoding="utf-8"))


def case_id(case):
    """A readable test id: what is typed."""
    return "card" if "card_of" in case else repr(case["q"])


def typed(case, codes):
    """What the case types into the box: its text, or the code of a guest's card ({name:
    code})."""
    return codes[case["card_of"]] if "card_of" in case else case["q"]


def invite_guests(event, owner):
    """Register the cases' guests as `owner`'s customers and invite them to `event`, in the
    file's order; returns {name: invitation}, flushed.

    Each customer is given the number the file names: 1 to 3 digits are a customer number to
    the search, and a database's own numbering (a PostgreSQL sequence that other tests have
    moved on) cannot promise one that short. So the row is built as create_customer builds it,
    with the number set."""
    invitations = {}
    for guest in CASES["guests"]:
        data = c.CustomerData(name=guest["name"], phone=guest["phone"],
                              phone2=guest.get("phone2", ""))
        values = c.clean_customer_data(data, today=company_today())
        customer = c.Customer(id=guest["number"], **values, owner=owner,
                              department_id=owner.department_id,
                              name_parts=c.name_parts(values["name"]))
        db.session.add(customer)
        db.session.flush()
        invitations[guest["name"]] = ev.invite(event, customer, actor=owner)
    db.session.flush()
    return invitations
