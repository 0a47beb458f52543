"""The sale and the money: orders, payments, refunds, returns, arrears, the daily close."""
