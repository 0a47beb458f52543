"""The warehouse's nightly list: products whose free stock (on hand less what pooled custody
promised customers) is below zero, for the warehouse clerk to bring in (models.inventory
record_shortfalls; unique per day, warehouse and product, so a re-run writes nothing twice)."""
from models import inventory as inv


def shortfalls(day, now=None):
    """Write the day's list of products short of what is promised; returns the rows written."""
    return inv.record_shortfalls(day, now)
