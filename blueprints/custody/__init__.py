"""Custody: find a customer, hand over goods held, slips, statements, expiry, reports."""
