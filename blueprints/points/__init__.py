"""Points: a customer's points, redemption at the counter, slips, the liability."""
