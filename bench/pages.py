"""The page-load benchmark: the personal pages and the manager pages under 50 concurrent users, on PostgreSQL.

The script loads the demo world (``sleutelbos demo``) into a PostgreSQL database of its own (``DATABASE_URL``, by
default ``postgres://postgres@127.0.0.1:5432/bench_pages``, created when missing), serves Sleutelbos with gunicorn
(production settings: DEBUG off; gthread workers) on a free local port, and lets 50 virtual users — each a logged-in
mandate manager of a demo organisation, with a session of their own — walk the pages a manager uses every day:

    /my/                                      overview: my means, organisations and mandates in words
    /my/login-check/                          "Where can I log in?": the whole catalogue decided for one organisation
    /my/organisations/<id>/                   the manager's start page
    /my/organisations/<id>/people/            people
    /my/organisations/<id>/mandates/          mandates
    /my/organisations/<id>/mandates/chain/    chain mandates (the URL named ``manage_chain_mandates``)
    /my/organisations/<id>/audit/             the audit trail, first page

Every user is a thread with its own keep-alive HTTP connection (``http.client``) that asks for one page, reads the
whole answer, checks it (200, HTML), waits a think time (uniform between 0.5 and 1.5 times ``--think``, 1 s by
default; 0 makes it a saturation test) and asks for the next. After a warm-up the script measures for
``--duration`` seconds and prints p50, p95 and p99 of the time to the last byte per page, the requests per second
and the errors, and checks the target: every page under 150 ms at p95. The results go as JSON to
``var/bench/pages-<time>.json``.

    python bench/pages.py                        # 50 users, 15 s warm-up, 60 s measured
    python bench/pages.py --quick                # a smoke run: 10 users, 10 s warm-up, 10 s
    python bench/pages.py --users 50 --think 0   # as fast as the server goes
    python bench/pages.py --profile              # one request at a time: queries, time and CPU per page

``--profile`` measures without a server or load: for each page, in this process and through the whole middleware
stack, the median wall and CPU time of one request, the number of SQL queries and their time, and (with
``--profile-top N``) the N functions that took the most CPU time under cProfile.

The load generator runs on the same machine as the server and the database, so the figures include its share of the
CPUs; they are an upper bound for the server's own latency. The report gives the CPU time per request of gunicorn
(its workers, start-up included) and of the load generator, from ``getrusage``; PostgreSQL's is not counted.

gunicorn runs one worker per CPU plus one, with two threads each. A page is mostly Python work under the GIL: a second
thread overlaps a worker's database waits, more threads only queue for the GIL, and more processes than CPUs only
take turns on them. On 2 CPUs (load 5–6 from other work) 3 × 2 gave 22 ms of server CPU per request and p95 490 ms,
4 × 4 gave 24 ms and 620 ms, 5 × 1 gave 25 ms and 1.5 s (30–40 s runs; other work on the machine moves these).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import os
import platform
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import ROOT, configure_django, database_description, percentile, write_results

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_pages"
TARGET_P95_MS = 150.0
PAGES = (
    "my_overview",
    "my_login_check",
    "manage_dashboard",
    "manage_people",
    "manage_mandates",
    "manage_chain_mandates",
    "manage_audit",
)


@dataclass(frozen=True)
class User:
    """A virtual user: a session cookie and the pages they visit (name, path)."""

    name: str
    cookie: str
    pages: tuple[tuple[str, str], ...]


def ensure_database() -> None:
    """Create the PostgreSQL database ``DATABASE_URL`` names when it does not exist yet."""
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("The page benchmark runs on PostgreSQL: point DATABASE_URL at a PostgreSQL database of its own.")
    import psycopg
    from psycopg import sql

    settings = connection.settings_dict
    params = {
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings["NAME"])))


def load_demo() -> dict[str, int]:
    """Migrate and load the demo world (idempotent); the numbers of things in it."""
    from django.core.management import call_command

    from sleutelbos.audit.models import AuditEvent
    from sleutelbos.catalogue.models import ServiceDefinition
    from sleutelbos.identity.models import Person
    from sleutelbos.mandates.models import Mandate
    from sleutelbos.organisations.models import Organisation

    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo", stdout=io.StringIO(), stderr=io.StringIO())
    return {
        "organisations": Organisation.objects.count(),
        "people": Person.objects.count(),
        "mandates": Mandate.objects.count(),
        "services": ServiceDefinition.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def make_users(count: int) -> list[User]:
    """``count`` logged-in sessions, spread over the demo's mandate managers, each with their manager pages."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from sleutelbos.organisations.models import Membership

    managers = list(
        Membership.objects.filter(manager_level__isnull=False, person__is_active=True)
        .select_related("person")
        .order_by("organisation_id", "person_id")
    )
    if not managers:
        sys.exit("The demo world has no mandate managers.")
    users = []
    for n in range(count):
        membership = managers[n % len(managers)]
        client = Client()
        client.force_login(membership.person)
        organisation = {"organisation": membership.organisation_id}
        pages = tuple(
            (name, reverse(name, kwargs=organisation) if name.startswith("manage_") else reverse(name))
            for name in PAGES
        )
        users.append(User(membership.person.email, client.cookies[settings.SESSION_COOKIE_NAME].value, pages))
    return users


def fetch(connection: http.client.HTTPConnection, path: str, cookie: str = "") -> tuple[int, str, bytes]:
    """GET ``path`` on a kept-alive connection with the session cookie: status, content type and the whole body."""
    from django.conf import settings

    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"} if cookie else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    except (OSError, http.client.HTTPException):
        connection.close()  # the next request opens a new connection
        raise


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def server(port: int, workers: int, threads: int) -> Iterator[str]:
    """Sleutelbos under gunicorn on ``port`` for the duration of the block; its base URL."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        sys.exit("gunicorn is missing: pip install -e '.[bench]' (or make bench-pages).")
    env = {**os.environ, "DEBUG": "0", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "127.0.0.1"}
    command = [
        str(gunicorn),
        "sleutelbos.wsgi",
        f"--bind=127.0.0.1:{port}",
        "--worker-class=gthread",
        f"--workers={workers}",
        f"--threads={threads}",
        "--log-level=warning",
        "--preload",
        "--timeout=60",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if fetch(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "/")[0] == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("gunicorn did not start.")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_pages(url: str, users: list[User]) -> None:
    """Every page answers 200 with HTML for the first user, or the benchmark would measure error pages."""
    user = users[0]
    connection = _connect(url)
    for name, path in user.pages:
        status, content_type, _body = fetch(connection, path, user.cookie)
        if status != 200 or "text/html" not in content_type:
            sys.exit(f"{name} ({path}) answered {status} for {user.name}; nothing measured.")
    connection.close()


def _connect(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)


class Recorder:
    """Latencies per page, while ``measuring``; errors counted apart."""

    def __init__(self) -> None:
        self.measuring = False
        self.latencies: dict[str, list[int]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.served = 0  # every request answered, warm-up included, for the CPU per request
        self.lock = threading.Lock()

    def add(self, page: str, elapsed_ns: int, ok: bool) -> None:
        self.served += 1  # one thread at a time holds the GIL between these bytecodes often enough for a count
        if not self.measuring:
            return
        with self.lock:
            if ok:
                self.latencies[page].append(elapsed_ns)
            else:
                self.errors[page] += 1


def walk(url: str, user: User, recorder: Recorder, stop: threading.Event, think: float, seed: int) -> None:
    """One virtual user: the pages in turn from a random one, a think time between them."""
    rng = random.Random(seed)
    pages = list(user.pages)
    n = rng.randrange(len(pages))
    connection = _connect(url)
    if think:
        stop.wait(rng.uniform(0, think))  # the users do not all arrive at once
    while not stop.is_set():
        name, path = pages[n % len(pages)]
        n += 1
        began = time.perf_counter_ns()
        try:
            status, _content_type, body = fetch(connection, path, user.cookie)
            ok = status == 200 and b"</html>" in body
        except (OSError, http.client.HTTPException):
            ok = False
        recorder.add(name, time.perf_counter_ns() - began, ok)
        if think:
            stop.wait(rng.uniform(0.5 * think, 1.5 * think))
    connection.close()


def run_load(url: str, users: list[User], *, warmup: float, duration: float, think: float) -> tuple[Recorder, float]:
    """Warm up, then measure for ``duration`` seconds; the recorder and the seconds actually measured."""
    recorder = Recorder()
    stop = threading.Event()
    threads = [
        threading.Thread(target=walk, args=(url, user, recorder, stop, think, n), daemon=True)
        for n, user in enumerate(users)
    ]
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    recorder.measuring = True
    began = time.monotonic()
    time.sleep(duration)
    recorder.measuring = False
    measured = time.monotonic() - began
    stop.set()
    for thread in threads:
        thread.join(timeout=40)
    return recorder, measured


def cpu_seconds(who: int) -> float:
    """User and system CPU seconds of this process (``RUSAGE_SELF``) or its waited-for children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def profile_pages(users: list[User], *, rounds: int, top: int) -> dict[str, Any]:
    """Each page of the first user, one request at a time: wall and CPU time, SQL queries and their time."""
    import cProfile
    import pstats
    import statistics

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = users[0]
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = user.cookie
    for _name, path in user.pages:  # warm up: templates compiled, caches filled, connection open
        client.get(path)
    results: dict[str, Any] = {}
    print(f"\nOne request at a time, {rounds} rounds, as {user.name} (median per request)")
    print(f"{'page':<24} {'wall ms':>8} {'cpu ms':>8} {'queries':>7} {'sql ms':>8} {'bytes':>8}")
    for name, path in user.pages:
        walls, cpus, sql = [], [], []
        queries = 0
        size = 0
        for _ in range(rounds):
            with CaptureQueriesContext(connection) as captured:
                wall, cpu = time.perf_counter_ns(), time.process_time_ns()
                response = client.get(path)
                cpus.append((time.process_time_ns() - cpu) / 1e6)
                walls.append((time.perf_counter_ns() - wall) / 1e6)
            if response.status_code != 200:
                sys.exit(f"{name} ({path}) answered {response.status_code}; nothing measured.")
            queries = len(captured.captured_queries)
            sql.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
            size = len(response.content)
        results[name] = {
            "wall_ms": statistics.median(walls),
            "cpu_ms": statistics.median(cpus),
            "queries": queries,
            "sql_ms": statistics.median(sql),
            "bytes": size,
        }
        page = results[name]
        print(
            f"{name:<24} {page['wall_ms']:>8.1f} {page['cpu_ms']:>8.1f} {queries:>7} {page['sql_ms']:>8.1f} {size:>8}"
        )
    if top:
        for name, path in user.pages:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(rounds):
                client.get(path)
            profiler.disable()
            print(f"\n--- {name}: the {top} functions with the most CPU time of their own, {rounds} requests")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
    return results


def summarise(recorder: Recorder, measured: float) -> dict[str, Any]:
    pages = {}
    every: list[int] = []
    for name in PAGES:
        latencies = recorder.latencies.get(name, [])
        every += latencies
        pages[name] = {
            "requests": len(latencies),
            "errors": recorder.errors.get(name, 0),
            **(
                {
                    "p50_ms": percentile(latencies, 0.50),
                    "p95_ms": percentile(latencies, 0.95),
                    "p99_ms": percentile(latencies, 0.99),
                    "max_ms": max(latencies) / 1e6,
                }
                if latencies
                else {}
            ),
        }
    overall = {
        "requests": len(every),
        "errors": sum(recorder.errors.values()),
        "requests_per_second": len(every) / measured if measured else 0.0,
        **({"p50_ms": percentile(every, 0.50), "p95_ms": percentile(every, 0.95)} if every else {}),
    }
    return {"pages": pages, "overall": overall}


def print_report(summary: dict[str, Any], args: argparse.Namespace, world: dict[str, int], database: str) -> bool:
    """The table and the target; whether every page met it."""
    print(f"\nPage loads — {args.users} concurrent users, think time {args.think:g} s, {args.duration:g} s measured")
    print(f"Database: {database}; demo world: " + ", ".join(f"{count} {name}" for name, count in world.items()))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Server: gunicorn gthread, {args.workers} workers × {args.threads} threads; {os.cpu_count()} CPUs")
    print(f"Load average after the run (1, 5, 15 min): {load} — other work on the machine slows every page")
    print()
    print(f"{'page':<24} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  target")
    passed = True
    for name, page in summary["pages"].items():
        ok = page["requests"] > 0 and page["errors"] == 0 and page["p95_ms"] < TARGET_P95_MS
        passed &= ok
        figures = (
            f"{page['p50_ms']:>8.1f} {page['p95_ms']:>8.1f} {page['p99_ms']:>8.1f} {page['max_ms']:>8.1f}"
            if page["requests"]
            else f"{'-':>8} {'-':>8} {'-':>8} {'-':>8}"
        )
        verdict = "PASS" if ok else "FAIL"
        print(f"{name:<24} {page['requests']:>8} {page['errors']:>6} {figures}  {verdict}")
    overall = summary["overall"]
    print(
        f"\nAll pages: {overall['requests']} requests, {overall['requests_per_second']:.1f}/s, "
        f"{overall['errors']} errors; p50 {overall.get('p50_ms', 0):.1f} ms, p95 {overall.get('p95_ms', 0):.1f} ms"
    )
    cpu = summary["cpu"]
    print(
        f"CPU per request: server (gunicorn, start-up included) {cpu['server_ms_per_request']:.1f} ms, "
        f"load generator {cpu['load_generator_ms_per_request']:.1f} ms; PostgreSQL's not counted"
    )
    print(f"Target: every page p95 < {TARGET_P95_MS:g} ms with no errors: {'PASS' if passed else 'FAIL'}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent users (50)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured (60)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of warm-up, not measured (15)")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time between pages, seconds (1)")
    parser.add_argument(
        "--workers", type=int, default=(os.cpu_count() or 1) + 1, help="gunicorn workers (one per CPU, plus one)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 users, 10 s warm-up, 10 s measured")
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    parser.add_argument("--profile", action="store_true", help="no load: one request at a time, queries and CPU")
    parser.add_argument("--rounds", type=int, default=20, help="requests per page with --profile (20)")
    parser.add_argument("--profile-top", type=int, default=0, help="with --profile: the N costliest functions")
    args = parser.parse_args()
    if args.quick:
        args.users, args.warmup, args.duration = 10, 10.0, 10.0

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    configure_django("unused.sqlite3", quiet={"sleutelbos": 30, "django": 40})
    ensure_database()
    database = database_description()
    print(f"Loading the demo world into {database} ...", flush=True)
    world = load_demo()
    users = make_users(args.users)
    if args.profile:
        profile = profile_pages(users, rounds=args.rounds, top=args.profile_top)
        written = write_results(args.output, "pages-profile", {"benchmark": "pages-profile", "pages": profile})
        print(f"Results: {written}")
        return
    from django.db import connections

    connections.close_all()
    children_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    with server(free_port(), args.workers, args.threads) as url:
        check_pages(url, users)
        print(f"Measuring {len(users)} users for {args.warmup:g} + {args.duration:g} s ...", flush=True)
        self_began = cpu_seconds(resource.RUSAGE_SELF)
        recorder, measured = run_load(url, users, warmup=args.warmup, duration=args.duration, think=args.think)
        generator = cpu_seconds(resource.RUSAGE_SELF) - self_began
    # gunicorn (its master and workers, reaped when it stopped) counts as this process's children.
    server_cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
    summary = summarise(recorder, measured)
    served = recorder.served + len(PAGES)
    summary["cpu"] = {
        "server_ms_per_request": server_cpu * 1000 / served,
        "load_generator_ms_per_request": generator * 1000 / max(recorder.served, 1),
        "requests_served": served,
    }
    passed = print_report(summary, args, world, database)
    results = {
        "benchmark": "pages",
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "database": database,
        "world": world,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **summary,
        "target_p95_ms": TARGET_P95_MS,
        "passed": passed,
    }
    print(f"Results: {write_results(args.output, 'pages', results)}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
