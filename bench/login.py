"""The login benchmark: password logins through the portal's login form, next to Keycloak's published sizing.

In one process, with Django's test client (the full middleware stack, CSRF checks on), the script does what a browser
does: fetch the login page (``identity:login``, which sets the CSRF cookie and carries the form's token), post the
e-mail address and password, follow the redirect to the account page, and check that the person is logged in at EH2.
It also times failed logins (a wrong password costs a hash as well). The people are created at EH2 through
``person_create`` with identity evidence; a correct password alone logs them in fully.

It runs twice: with the production password hasher (``settings.PASSWORD_HASHERS[0]``, Django's Argon2 with its own
time cost, memory cost and parallelism) and with the same hasher set to Keycloak's Argon2 parameters (5 iterations,
7 MiB, parallelism 1), the passwords re-hashed for that run, so that the comparison with Keycloak's published 15
password logins per second per vCPU is like for like. The process is pinned to one CPU while it measures (one
process = one vCPU), so Argon2's lanes cannot spread over more cores than Keycloak's figure assumes.

The database is ``DATABASE_URL``; without it the script uses its own SQLite file ``var/bench-login.sqlite3``. It
prints one table and writes the results as JSON to ``var/bench/login-<time>.json``.

    python bench/login.py             # 200 logins and 200 failed logins per configuration, after 20 of each
    python bench/login.py --quick     # a smoke run: 20 of each
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import logging
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from common import (
    configure_django,
    database_description,
    guard_database,
    latency_summary,
    percentile,
    reset_database,
    write_results,
)

SQLITE_NAME = "bench-login.sqlite3"
EMAIL_DOMAIN = "bench-login.invalid"
DECISIONS_EMAIL_DOMAIN = "bench.invalid"  # bench/world.py: its people may be there too when both share a DATABASE_URL

# Keycloak's sizing guide: "For each 15 password-based user logins per second, allocate 1 vCPU to the cluster",
# measured with its default password hashing, Argon2id with 5 iterations, 7 MiB of memory and parallelism 1.
KEYCLOAK_LOGINS_PER_VCPU = 15.0
KEYCLOAK_SOURCE = "https://www.keycloak.org/high-availability/single-cluster/concepts-memory-and-cpu-sizing"
KEYCLOAK_TIME_COST = 5
KEYCLOAK_MEMORY_KIB = 7 * 1024
KEYCLOAK_PARALLELISM = 1

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HOST = "testserver"
ORIGIN = f"https://{HOST}"


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200, help="timed successful logins per configuration")
    parser.add_argument("--failures", type=int, default=200, help="timed failed logins per configuration")
    parser.add_argument("--warmup", type=int, default=20, help="untimed logins (and failed logins) first")
    parser.add_argument("--hashes", type=int, default=20, help="timed password checks alone, per configuration")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 logins, 20 failures, 3 warm-up")
    parser.add_argument("--configs", default="production,keycloak", help="production, keycloak or both")
    parser.add_argument("--cpu", type=int, default=None, help="the CPU to pin to (default: the first one allowed)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    parser.add_argument("--force", action="store_true", help="use a database that holds data not made by the bench")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default var/bench/login-<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.logins = min(args.logins, 20)
        args.failures = min(args.failures, 20)
        args.warmup = min(args.warmup, 3)
        args.hashes = min(args.hashes, 5)
    args.configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = set(args.configs) - {"production", "keycloak"}
    if unknown:
        parser.error(f"unknown configuration: {', '.join(sorted(unknown))}")
    return args


# --------------------------------------------------------------------------------------------------------------------
# Hashers


def keycloak_hasher_class() -> type:
    """Django's Argon2 hasher with Keycloak's default parameters (Argon2id, 5 iterations, 7 MiB, parallelism 1)."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    class KeycloakArgon2PasswordHasher(Argon2PasswordHasher):
        time_cost = KEYCLOAK_TIME_COST
        memory_cost = KEYCLOAK_MEMORY_KIB
        parallelism = KEYCLOAK_PARALLELISM

    return KeycloakArgon2PasswordHasher


KeycloakArgon2PasswordHasher: type | None = None  # set in main(), after Django is configured


def hasher_parameters(hasher: Any, encoded: str) -> dict[str, Any]:
    """The parameters read from the hasher class, checked against those in a stored hash."""
    stored = hasher.decode(encoded)
    parameters = {
        "hasher": f"{type(hasher).__module__}.{type(hasher).__qualname__}",
        "algorithm": hasher.algorithm,
        "variety": stored.get("variety", ""),
        "time_cost": hasher.time_cost,
        "memory_cost_kib": hasher.memory_cost,
        "memory_cost_mib": hasher.memory_cost / 1024,
        "parallelism": hasher.parallelism,
    }
    for key, ours in (("time_cost", "time_cost"), ("memory_cost", "memory_cost_kib"), ("parallelism", "parallelism")):
        if stored[key] != parameters[ours]:
            raise RuntimeError(f"stored hash has {key}={stored[key]}, the hasher {parameters[ours]}")
    return parameters


def configuration(name: str) -> contextlib.AbstractContextManager:
    """Settings for one run: the production hashers as configured, or Keycloak's parameters alone."""
    from django.test import override_settings

    if name == "production":
        return contextlib.nullcontext()
    return override_settings(PASSWORD_HASHERS=[f"{__name__}.KeycloakArgon2PasswordHasher"])


# --------------------------------------------------------------------------------------------------------------------
# People


def password_for(index: int) -> str:
    return f"Bench-login {index:06d} correct horse"


def people_create(count: int) -> list[Any]:
    """``count`` people with an active means at EH2, on recorded identity evidence (not timed)."""
    from sleutelbos.audit.services import SYSTEM
    from sleutelbos.catalogue.levels import Level
    from sleutelbos.identity.models import DocumentType
    from sleutelbos.identity.services import DOCUMENT_KINDS, EvidenceDetails, evidence_kind_for, person_create

    kind = evidence_kind_for(Level.EH2)
    evidence = EvidenceDetails(kind=kind, document_type=DocumentType.PASSPORT if kind in DOCUMENT_KINDS else "")
    return [
        person_create(
            actor=SYSTEM,
            name=f"Bench Persoon {index}",
            email=f"persoon{index}@{EMAIL_DOMAIN}",
            level=Level.EH2,
            evidence=evidence,
        )
        for index in range(count)
    ]


def passwords_set(people: list[Any]) -> None:
    """Hash every person's password with the hasher configured now (not timed)."""
    from sleutelbos.identity.models import Person

    for index, person in enumerate(people):
        person.set_password(password_for(index))
    Person.objects.bulk_update(people, ["password"], batch_size=500)


# --------------------------------------------------------------------------------------------------------------------
# A browser


class Browser:
    """One visitor with its own cookies and client address, posting forms the way a browser does."""

    def __init__(self, address: str) -> None:
        from django.test import Client

        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=address, HTTP_HOST=HOST)

    def get(self, url: str) -> Any:
        return self.client.get(url, secure=True)

    def post(self, url: str, data: dict[str, str], *, referer: str) -> Any:
        return self.client.post(url, data, secure=True, HTTP_ORIGIN=ORIGIN, HTTP_REFERER=f"{ORIGIN}{referer}")


def csrf_token(response: Any) -> str:
    found = CSRF_FIELD.search(response.content.decode())
    if found is None:
        raise RuntimeError(f"no CSRF token in the page at {response.request['PATH_INFO']}")
    return found.group(1)


class Outcome:
    """The timings of one login attempt, in nanoseconds, and whether it went as expected."""

    __slots__ = ("follow", "get", "logout", "ok", "post", "problem")

    def __init__(self) -> None:
        self.get = self.post = self.follow = self.logout = 0
        self.ok = False
        self.problem = ""


def login(person: Any, password: str, address: str, urls: dict[str, str]) -> Outcome:
    """Log in with the form, follow the redirect to the account page, check the session, log out."""
    from sleutelbos.catalogue.levels import Level
    from sleutelbos.identity.sessions import AUTH_LEVEL

    clock = time.perf_counter_ns
    outcome = Outcome()
    browser = Browser(address)
    started = clock()
    page = browser.get(urls["login"])
    got = clock()
    form = {"csrfmiddlewaretoken": csrf_token(page), "email": person.email, "password": password, "next": ""}
    answer = browser.post(urls["login"], form, referer=urls["login"])
    posted = clock()
    location = answer.headers.get("Location", "")
    account = browser.get(location) if answer.status_code == 302 else None
    followed = clock()
    outcome.get, outcome.post, outcome.follow = got - started, posted - got, followed - posted
    if answer.status_code != 302 or location != urls["account"]:
        outcome.problem = f"login answered {answer.status_code} {location!r}"
        return outcome
    if account is None or account.status_code != 200 or person.email not in account.content.decode():
        outcome.problem = f"account page answered {account.status_code if account else '-'}"
        return outcome
    if browser.client.session.get(AUTH_LEVEL) != int(Level.EH2):
        outcome.problem = f"session level {browser.client.session.get(AUTH_LEVEL)!r}"
        return outcome
    before = clock()
    bye = browser.post(urls["logout"], {"csrfmiddlewaretoken": csrf_token(account)}, referer=urls["account"])
    outcome.logout = clock() - before
    if bye.status_code != 302 or "_auth_user_id" in browser.client.session:
        outcome.problem = f"logout answered {bye.status_code}"
        return outcome
    outcome.ok = True
    return outcome


def failed_login(person: Any, address: str, urls: dict[str, str]) -> Outcome:
    """Post a wrong password (the login page fetched first, not timed); the form must come back with an error."""
    outcome = Outcome()
    browser = Browser(address)
    page = browser.get(urls["login"])
    form = {"csrfmiddlewaretoken": csrf_token(page), "email": person.email, "password": "not the password", "next": ""}
    before = time.perf_counter_ns()
    answer = browser.post(urls["login"], form, referer=urls["login"])
    outcome.post = time.perf_counter_ns() - before
    if answer.status_code != 400 or "_auth_user_id" in browser.client.session:
        outcome.problem = f"wrong password answered {answer.status_code}"
        return outcome
    outcome.ok = True
    return outcome


# --------------------------------------------------------------------------------------------------------------------
# Measuring


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[int | None]:
    """Run on one CPU (restoring the previous affinity afterwards); ``None`` leaves the process alone."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield None
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, previous)


def summary(latencies: list[int], wall_ns: int, cpu_s: float) -> dict[str, float]:
    count = len(latencies)
    return {
        "count": count,
        **latency_summary(latencies, "ms"),
        "per_s": count / (wall_ns / 1e9),
        "per_cpu_s": count / cpu_s if cpu_s > 0 else float("nan"),
        "cpu_ms_each": cpu_s * 1000 / count,
    }


def timed(calls: list[Callable[[], Outcome]], pick: Callable[[Outcome], int]) -> tuple[dict, list[Outcome]]:
    """Run the calls one after another: latency per call (``pick``), throughput by wall clock and by CPU time."""
    gc.collect()
    outcomes: list[Outcome] = []
    cpu_before, wall_before = time.process_time(), time.perf_counter_ns()
    for call in calls:
        outcomes.append(call())
    wall, cpu = time.perf_counter_ns() - wall_before, time.process_time() - cpu_before
    failed = [outcome.problem for outcome in outcomes if not outcome.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(outcomes)} attempts went wrong, e.g. {failed[0]}")
    return summary([pick(outcome) for outcome in outcomes], wall, cpu), outcomes


def run_configuration(name: str, people: list[Any], args: argparse.Namespace, cpu: int | None) -> list[dict]:
    """Re-hash the passwords for this configuration, then time logins, failed logins and the hash alone."""
    from django.contrib.auth.hashers import check_password, get_hasher
    from django.urls import reverse

    from sleutelbos.identity.models import LoginFailure, Person

    urls = {name_: reverse(f"identity:{name_}") for name_ in ("login", "account", "logout")}
    with configuration(name):
        hasher = get_hasher("default")
        print(f"\n== {name}: hashing {len(people)} passwords with {type(hasher).__name__} (not timed)", flush=True)
        passwords_set(people)
        people = list(Person.objects.filter(pk__in=[person.pk for person in people]).order_by("pk"))
        parameters = hasher_parameters(hasher, people[0].password)
        LoginFailure.objects.all().delete()  # every run starts with a clean throttle
        prefix = {"production": 10, "keycloak": 11}[name]

        def address(kind: int, index: int) -> str:
            # Every visitor its own address, so that the per-address throttle counts none of them twice.
            return f"{prefix}.{kind}.{index // 250}.{index % 250 + 1}"

        def logins(indexes: range) -> list[Callable[[], Outcome]]:
            return [partial(login, people[i], password_for(i), address(1, i), urls) for i in indexes]

        def failures(indexes: range) -> list[Callable[[], Outcome]]:
            # One wrong password per account: far below the per-account limit, so no attempt is throttled.
            return [partial(failed_login, people[i % len(people)], address(2, i), urls) for i in indexes]

        warm, total = args.warmup, args.warmup + args.logins
        rows = []
        with pinned(cpu):
            for call in logins(range(warm)) + failures(range(warm)):
                if not (outcome := call()).ok:
                    raise RuntimeError(f"warm-up went wrong: {outcome.problem}")
            stored = Person.objects.get(pk=people[warm].pk).password
            stats, outcomes = timed(logins(range(warm, total)), lambda o: o.get + o.post + o.follow)
            if Person.objects.get(pk=people[warm].pk).password != stored:
                raise RuntimeError("a login re-hashed the password: the hasher's parameters differ from the stored")
            stats["post_p50_ms"] = percentile([o.post for o in outcomes], 0.50)
            stats["logout_p50_ms"] = percentile([o.logout for o in outcomes], 0.50)
            rows.append({"config": name, "what": "login", **parameters, **stats})
            print(f"   {stats['count']} logins: {stats['per_s']:.1f}/s", flush=True)
            failed_before = LoginFailure.objects.count()
            stats, _ = timed(failures(range(warm, warm + args.failures)), lambda o: o.post)
            recorded = LoginFailure.objects.count() - failed_before
            if recorded != args.failures:
                raise RuntimeError(f"{recorded} failures recorded for {args.failures} wrong passwords: throttled?")
            rows.append({"config": name, "what": "failed login", **parameters, **stats})
            print(f"   {stats['count']} failed logins: {stats['per_s']:.1f}/s", flush=True)
            encoded, password = people[0].password, password_for(0)
            hashes = [partial(_check, check_password, password, encoded)] * args.hashes
            stats, _ = timed(hashes, lambda o: o.post)
            rows.append({"config": name, "what": "hash alone", **parameters, **stats})
    return rows


def _check(check_password: Callable[[str, str], bool], password: str, encoded: str) -> Outcome:
    outcome = Outcome()
    before = time.perf_counter_ns()
    outcome.ok = check_password(password, encoded)
    outcome.post = time.perf_counter_ns() - before
    outcome.problem = "" if outcome.ok else "the password did not check"
    return outcome


# --------------------------------------------------------------------------------------------------------------------
# Report


def print_report(rows: list[dict], database: str, cpu: int | None, elapsed: float) -> None:
    print()
    print(
        f"Password logins, one process, {'pinned to CPU ' + str(cpu) if cpu is not None else 'not pinned'}; "
        f"{database}; Python {platform.python_version()} on {platform.machine()}"
    )
    print("A login: GET the login page, POST the form (CSRF checked), GET the account page it redirects to.")
    print("A failed login: the POST of a wrong password. Hash alone: check_password of a correct password.")
    header = (
        f"{'config':<11} {'Argon2 t / MiB / p':<21} {'what':<13} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'per s':>7} {'per CPU-s':>9} {'vs Keycloak':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        params = f"{row['variety']} {row['time_cost']} / {row['memory_cost_mib']:g} / {row['parallelism']}"
        ratio = f"{row['per_s'] / KEYCLOAK_LOGINS_PER_VCPU:.2f}×" if row["what"] == "login" else ""
        print(
            f"{row['config']:<11} {params:<21} {row['what']:<13} {row['count']:>5} {row['p50_ms']:>8.2f} "
            f"{row['p99_ms']:>8.2f} {row['per_s']:>7.1f} {row['per_cpu_s']:>9.1f} {ratio:>11}"
        )
    print("-" * len(header))
    print(
        f"Keycloak: {KEYCLOAK_LOGINS_PER_VCPU:g} password logins/s per vCPU with Argon2 at {KEYCLOAK_TIME_COST} "
        f"iterations / {KEYCLOAK_MEMORY_KIB // 1024} MiB / parallelism {KEYCLOAK_PARALLELISM} ({KEYCLOAK_SOURCE})."
    )
    print(
        "Ours per vCPU: logins/s of this one process on one CPU; 'vs Keycloak' is that over 15. 'per CPU-s' counts "
        "the process's CPU time instead of the wall clock."
    )
    for row in rows:
        if row["what"] == "login":
            print(
                f"  {row['config']}: {row['per_s']:.1f} logins/s per vCPU, ratio ours/15 = "
                f"{row['per_s'] / KEYCLOAK_LOGINS_PER_VCPU:.2f} (POST alone p50 {row['post_p50_ms']:.1f} ms, "
                f"logout p50 {row['logout_p50_ms']:.1f} ms, not counted)"
            )
    print(f"Total time {elapsed:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    global KeycloakArgon2PasswordHasher
    args = arguments(argv)
    started = time.perf_counter()
    # Every failed login is a 400, which django.request logs as a warning.
    given = configure_django(SQLITE_NAME, quiet={"django.request": logging.ERROR})
    KeycloakArgon2PasswordHasher = keycloak_hasher_class()
    guard_database(args.force, [EMAIL_DOMAIN, DECISIONS_EMAIL_DOMAIN])
    reset_database()
    database = database_description(server_version=False)
    cpu = None if args.no_pin else (args.cpu if args.cpu is not None else min(os.sched_getaffinity(0)))
    count = args.warmup + max(args.logins, args.failures)
    print(f"Creating {count} people at EH2 in {database} (not timed)", flush=True)
    people = people_create(count)
    rows: list[dict] = []
    for name in args.configs:
        rows.extend(run_configuration(name, people, args, cpu))
    if given:
        # Leave a shared benchmark database empty, as the decision benchmark expects to find it.
        from django.core.management import call_command

        call_command("flush", verbosity=0, interactive=False)
    elapsed = time.perf_counter() - started
    print_report(rows, database, cpu, elapsed)
    output = write_results(
        args.output,
        "login",
        {
            "when": dt.datetime.now().isoformat(timespec="seconds"),
            "database": database,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu": cpu,
            "cpus_available": os.cpu_count(),
            "arguments": {key: str(value) for key, value in vars(args).items()},
            "keycloak": {
                "logins_per_s_per_vcpu": KEYCLOAK_LOGINS_PER_VCPU,
                "time_cost": KEYCLOAK_TIME_COST,
                "memory_cost_kib": KEYCLOAK_MEMORY_KIB,
                "parallelism": KEYCLOAK_PARALLELISM,
                "source": KEYCLOAK_SOURCE,
            },
            "rows": [
                {**row, "ratio_to_keycloak": row["per_s"] / KEYCLOAK_LOGINS_PER_VCPU} if row["what"] == "login" else row
                for row in rows
            ],
            "elapsed_s": elapsed,
        },
    )
    print(f"Results written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
