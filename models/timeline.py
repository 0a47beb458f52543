"""One timeline per customer: everything that happened to them, newest first.

Each area registers a provider — a function ``(customer, limit) -> [TimelineItem]`` reading its
own tables — and timeline_of() merges them. Nothing is copied into a second table, so the
timeline can never disagree with the records it shows. Contact logs and ownership changes come
from the customers area; invitations, check-ins, orders, payments, gifts, points, custody and
callbacks add their providers as they arrive.
"""
from dataclasses import dataclass
from datetime import datetime
from heapq import merge
from itertools import islice

PROVIDERS = []


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    #: The area and kind, e.g. "contact.call", "ownership.transfer" (used for icons and tests).
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    #: Link to the record behind the item, if it has a page.
    url: str | None = None


def register_provider(provider):
    """Add a timeline provider: provider(customer, limit) -> list of TimelineItem."""
    PROVIDERS.append(provider)
    return provider


def timeline_of(customer, limit=100):
    """The customer's newest `limit` timeline items, from every registered provider."""
    streams = [sorted(provider(customer, limit), key=lambda item: item.at, reverse=True)
               for provider in PROVIDERS]
    return list(islice(merge(*streams, key=lambda item: item.at, reverse=True), limit))
