"""`check-ledgers`: every append-only ledger proves its cached balances equal the sum of its
entries. Each ledger registers its check (a function returning a list of problems, [] when its
books are right); stock is the first, points, custody and payments join as they land."""

#: Ledger name → check function.
CHECKS = {}


def register_check(name):
    def decorator(check):
        CHECKS[name] = check
        return check
    return decorator


def check_ledgers():
    """{ledger name: [problem, ...]} for every registered ledger."""
    return {name: check() for name, check in CHECKS.items()}
