"""Gifts: rules per event, the door gift, purchase gifts with orders, ledgers, costs."""
