"""After-sales (售后): the list of tickets, a new ticket from the customer's page, the ticket's
page (notes, hand-over, start, close with the outcome, reopen)."""
