"""gunicorn settings for 会销通 (`gunicorn -c deploy/gunicorn.conf.py "app:create_app()"`).

Every value can be set from the environment, so one file serves `make run-pg`, a systemd unit
and a container. Workers share nothing in memory: sessions are signed cookies, locks and
one-time tokens live in the database, so any number of workers on any number of hosts agree.
"""
import multiprocessing
import os

#: Address to listen on. Behind nginx on the same host keep 127.0.0.1; on an app host behind a
#: proxy on another machine listen on the private address (BIND=10.0.0.11:8000).
bind = os.environ.get("BIND", f"{os.environ.get('HOST', '127.0.0.1')}:"
                              f"{os.environ.get('PORT', '8000')}")
#: Worker processes: about two per core. Each holds its own small database connection pool.
workers = int(os.environ.get("WORKERS", multiprocessing.cpu_count() * 2))
#: Threads per worker: a thread waiting on the database or on a PDF does not hold up the rest.
worker_class = "gthread"
threads = int(os.environ.get("THREADS", 4))
#: A year's department report to PDF takes ~15 s on a small machine; leave room.
timeout = int(os.environ.get("TIMEOUT", 120))
graceful_timeout = 30
keepalive = 5
#: Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
#: connections over them. On one shared socket, kept-alive connections (door tablets, or nginx
#: with its upstream keepalive) could all end up in one worker, which runs Python on one core
#: while the others idle: the door bench measured 233 check-ins/s in such a run, about 400 in
#: the others. A worker that exits resets the connections still waiting in its socket's queue
#: (clients retry; with `sysctl net.ipv4.tcp_migrate_req=1` the kernel hands them to another
#: worker). REUSE_PORT=0 goes back to one shared socket.
reuse_port = os.environ.get("REUSE_PORT", "1") == "1"
#: Recycle workers now and then (a slow leak in a library cannot grow without bound).
max_requests = int(os.environ.get("MAX_REQUESTS", 5000))
max_requests_jitter = 500
#: The app writes one line per request (request id, status, duration) to stdout itself, so
#: gunicorn's own access log is off; its error log (start, stop, worker deaths) goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
#: Trust X-Forwarded-Proto / -For only from the proxy (set FORWARDED_ALLOW_IPS to the nginx
#: hosts' addresses when nginx runs on another machine).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "huixiaotong"
#: gunicorn's control socket (gunicornc) sits at one path per user: two instances on one host
#: would share it, and a killed master leaves it stale. The app does not use it.
control_socket_disable = True


def post_worker_init(worker):
    """Each worker logs to stdout: one line per request with its id and duration."""
    from ops.request_log import configure_logging
    configure_logging()
    # The app, its models and its translations loaded, are kept out of the garbage
    # collector's full passes: walking them took 170 ms, once every dozen list pages — the
    # p95 of every screen (bench/scale.py). What requests make is still collected.
    import gc
    gc.collect()
    gc.freeze()
