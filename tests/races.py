"""The one way the concurrency tests race: threads released together, what they raise collected.

    errors = race(tablet, clerk_ids, app=app)   # tablet(clerk_id) in its own thread each
    assert errors == []

Model work passes `app`: each thread runs in its own app context (its own session, committing for
real) and removes its session at the end, whatever happened. HTTP work passes no app: each
request a test client makes pushes its own context, as in production.
"""
import threading
from contextlib import nullcontext

from extensions import db


def race(work, args, *, app=None, timeout=60, meanwhile=None):
    """Run work(arg) for each of `args` in a thread of its own, all released at once by a
    barrier, and return the exceptions they raised (an empty list when none did). A thread
    still running after `timeout` seconds is reported as a TimeoutError.

    `meanwhile()`, if given, runs in the calling thread once the threads have started (to open a
    gate the threads wait at, say), before they are joined."""
    args = list(args)
    barrier, errors = threading.Barrier(len(args)), []

    def runner(arg):
        try:
            with app.app_context() if app is not None else nullcontext():
                try:
                    barrier.wait(timeout)
                    work(arg)
                finally:
                    if app is not None:
                        db.session.remove()
        except Exception as exc:  # handed to the test, which asserts on them
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(arg,), daemon=True) for arg in args]
    for thread in threads:
        thread.start()
    if meanwhile is not None:
        meanwhile()
    for thread in threads:
        thread.join(timeout)
    errors += [TimeoutError(f"{thread.name} still runs after {timeout} s")
               for thread in threads if thread.is_alive()]
    return errors
