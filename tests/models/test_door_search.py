"""The server's search against the cases the door tablet's offline search is held to as well
(tests/data/door_search_cases.json): at the door (find_at_door, in the order of the tablet's
guest list) and in the customer list (the same box on every screen)."""
import pytest

from models import checkin as ci, customers as c
from tests.door_search import CASES, case_id, invite_guests, typed
from tests.factories import make_event, make_user


@pytest.fixture
def guests(db):
    marketer = make_user(["marketer"])
    event = make_event(make_user(["manager"]))
    return event, marketer, invite_guests(event, marketer)


@pytest.mark.parametrize("case", CASES["cases"], ids=case_id)
def test_the_door_finds_what_the_case_says(guests, case):
    event, _owner, invitations = guests
    codes = {name: invitation.token for name, invitation in invitations.items()}
    found = ci.find_at_door(event, typed(case, codes))
    assert [i.customer.name for i in found] == case["finds"], case["why"]


# Not a card (the door's own), nor an empty box (the list then shows everyone).
@pytest.mark.parametrize("case", [x for x in CASES["cases"]
                                  if not x.get("door_only") and x["q"].strip()], ids=case_id)
def test_the_customer_list_finds_the_same(db, guests, case):
    _event, owner, _invitations = guests
    found = db.session.scalars(c.find_customers(owner, c.CustomerFilter(q=case["q"]))).all()
    assert sorted(x.name for x in found) == sorted(case["finds"]), case["why"]
