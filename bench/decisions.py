"""The decision benchmark: ``sleutelbos.mandates.decisions.decide`` against PyCasbin and SpiceDB embedded.

For each size (10 k, 100 k and 1 M mandates by default; ``--sizes`` for others, e.g. 10M) the script generates a world
(see ``world.py``), writes it into the configured database (Django settings: ``DATABASE_URL``; by default a separate
SQLite file ``var/bench.sqlite3``, so the development database is left alone), loads the same world into PyCasbin
and SpiceDB, and takes the same decisions through all three in one process: random (person, organisation, service)
triples, 70 % allowed and 30 % refused, a few through a chain mandate. The person (with means), organisation and
service instance (with definition) are loaded beforehand, so only the engine's own work is timed; every engine is
warmed up first. Every answer is compared with a small reference model, so a fast but wrong engine shows.

It prints one table (p50/p99 latency, decisions/s, Sleutelbos' throughput over the peer's), the build times, the
database, and the targets with PASS/FAIL, and writes the results as JSON to ``var/bench/decisions-<time>.json``.

    python bench/decisions.py                 # 10k, 100k, 1M
    python bench/decisions.py --quick         # 10k, 2 000 decisions: a smoke run
    python bench/decisions.py --sizes 10k,100k,1M,10M
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    configure_django,
    database_description,
    guard_database,
    latency_summary,
    reset_database,
    write_results,
)

SQLITE_NAME = "bench.sqlite3"
MILLISECOND_NS = 1_000_000

TARGET_P99_US = 1000.0
TARGET_SCALING = 1.5
TARGET_CASBIN = 10.0
TARGET_SPICEDB = 100.0
PEER_TARGET_SIZE = 100_000


def parse_size(text: str) -> int:
    """``10k`` → 10 000, ``1M`` → 1 000 000, ``5000`` → 5 000."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if factor > 1 else text) * factor)


def label(size: int) -> str:
    """1 000 000 → ``1M``, 10 000 → ``10k``."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="mandates per world, comma-separated (10k,100k,1M,10M)")
    parser.add_argument("--decisions", type=int, default=20_000, help="timed decisions per size and engine")
    parser.add_argument("--warmup", type=int, default=2_000, help="untimed decisions first, per size and engine")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10k only, 2 000 decisions")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--no-casbin", action="store_true", help="leave PyCasbin out")
    parser.add_argument("--no-spicedb", action="store_true", help="leave SpiceDB embedded out")
    parser.add_argument(
        "--spicedb-max", type=parse_size, default=100_000, help="largest world loaded into SpiceDB (default 100k)"
    )
    parser.add_argument(
        "--spicedb-decisions",
        type=int,
        default=2_000,
        help="timed decisions through SpiceDB (the first of the same list; its checks take milliseconds)",
    )
    parser.add_argument("--profile", action="store_true", help="profile decide (cProfile) at the largest size")
    parser.add_argument("--force", action="store_true", help="use a database that holds data not made by the bench")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default var/bench/decisions-<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "10k"
        args.decisions = min(args.decisions, 2_000)
        args.warmup = min(args.warmup, 200)
        args.spicedb_decisions = min(args.spicedb_decisions, 500)
    args.sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    return args


# --------------------------------------------------------------------------------------------------------------------
# Measuring


def measure(call: Callable[[Any], bool], warmup: Sequence[Any], items: Sequence[Any]) -> tuple[dict, list[bool]]:
    """Time ``call`` on every item (after the warm-up items): p50, p99 and decisions per second."""
    for item in warmup:
        call(item)
    gc.collect()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    outcomes: list[bool] = []
    started = clock()
    for item in items:
        before = clock()
        outcome = call(item)
        latencies.append(clock() - before)
        outcomes.append(bool(outcome))
    elapsed = clock() - started
    return {
        **latency_summary(latencies, "us"),
        "decisions_per_s": len(items) / (elapsed / 1e9),
        "decisions": len(items),
    }, outcomes


def agreement(outcomes: list[bool], expected: list[bool]) -> int:
    return sum(a == b for a, b in zip(outcomes, expected, strict=True))


def run_size(size: int, args: argparse.Namespace, now: dt.datetime) -> tuple[list[dict], dict]:
    """Build one world, load the peers, take the decisions; the result rows and the build facts."""
    from sleutelbos.catalogue.models import ServiceInstance
    from sleutelbos.identity.models import Person
    from sleutelbos.mandates.decisions import decide
    from sleutelbos.organisations.models import Organisation
    from world import World, write

    build: dict[str, Any] = {"size": size}
    print(f"\n== {label(size)} mandates", flush=True)
    started = time.perf_counter()
    world = World(size, seed=args.seed, now=now)
    build["generate_s"] = time.perf_counter() - started
    print(f"   generated in {build['generate_s']:.1f} s", flush=True)

    started = time.perf_counter()
    reset_database(sqlite_pragmas=["synchronous = OFF"])
    build["rows"] = write(world)
    build["database_s"] = time.perf_counter() - started
    print(f"   written into the database in {build['database_s']:.1f} s: {build['rows']}", flush=True)

    queries = world.queries(args.warmup + args.decisions)
    warm, timed = queries[: args.warmup], queries[args.warmup :]
    expected = [q.expected for q in timed]

    people = Person.objects.select_related("means").in_bulk({q.person for q in queries})
    organisations = Organisation.objects.in_bulk(
        {q.organisation for q in queries} | {q.intermediary for q in queries if q.intermediary}
    )
    instances = ServiceInstance.objects.select_related("definition").in_bulk()

    def load(query: Any) -> tuple:
        intermediary = organisations[query.intermediary] if query.intermediary else None
        return (
            people[query.person],
            organisations[query.organisation],
            instances[query.service.instance_id],
            intermediary,
        )

    def sleutelbos(item: tuple) -> bool:
        return decide(item[0], item[1], item[2], intermediary=item[3], at=now).allowed

    rows: list[dict] = []
    items = [load(q) for q in timed]
    result, outcomes = measure(sleutelbos, [load(q) for q in warm], items)
    rows.append({"size": size, "engine": "Sleutelbos", **result, "agree": agreement(outcomes, expected)})
    print(f"   Sleutelbos: p99 {result['p99_us']:.0f} µs, {result['decisions_per_s']:.0f}/s", flush=True)

    if args.profile and size == max(args.sizes):
        profile(sleutelbos, items)

    if not args.no_casbin:
        from casbin_peer import CasbinPeer

        started = time.perf_counter()
        peer = CasbinPeer(world)
        build["casbin_s"] = time.perf_counter() - started
        build["casbin_policies"] = peer.policy_count
        print(f"   PyCasbin loaded {peer.policy_count} policies in {build['casbin_s']:.1f} s", flush=True)
        result, outcomes = measure(peer.decide, [peer.prepare(q) for q in warm], [peer.prepare(q) for q in timed])
        rows.append({"size": size, "engine": "PyCasbin", **result, "agree": agreement(outcomes, expected)})
        print(f"   PyCasbin: p99 {result['p99_us']:.0f} µs, {result['decisions_per_s']:.0f}/s", flush=True)
        del peer

    if not args.no_spicedb:
        if size > args.spicedb_max:
            build["spicedb_skipped"] = (
                "its checks slow down with every relationship in its in-memory datastore (compare the 10k and 100k "
                f"rows); worlds above --spicedb-max {label(args.spicedb_max)} are left out, the target is at 100k"
            )
        else:
            from spicedb_peer import SpiceDBPeer, library_path

            started = time.perf_counter()
            spicedb = SpiceDBPeer(world, library_path(ROOT))
            build["spicedb_s"] = time.perf_counter() - started
            build["spicedb_relationships"] = spicedb.relationship_count
            print(
                f"   SpiceDB loaded {spicedb.relationship_count} relationships in {build['spicedb_s']:.1f} s",
                flush=True,
            )
            try:
                count = min(args.spicedb_decisions, len(timed))
                result, outcomes = measure(
                    spicedb.decide,
                    [spicedb.prepare(q) for q in warm[: max(1, count // 10)]],
                    [spicedb.prepare(q) for q in timed[:count]],
                )
            finally:
                spicedb.close()
            rows.append({"size": size, "engine": "SpiceDB", **result, "agree": agreement(outcomes, expected[:count])})
            print(f"   SpiceDB: p99 {result['p99_us']:.0f} µs, {result['decisions_per_s']:.0f}/s", flush=True)

    ours = rows[0]["decisions_per_s"]
    for row in rows:
        row["ratio"] = None if row["engine"] == "Sleutelbos" else ours / row["decisions_per_s"]
    build["allowed"] = sum(expected)
    return rows, build


def profile(call: Callable[[Any], bool], items: Sequence[Any]) -> None:
    """Where decide spends its time, by function (cProfile), for the report."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for item in items:
        call(item)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)


# --------------------------------------------------------------------------------------------------------------------
# Reporting


def checks(rows: list[dict], sizes: list[int]) -> list[dict]:
    """The targets, each PASS, FAIL or n/a (not measured in this run)."""

    def row(size: int, engine: str) -> dict | None:
        return next((r for r in rows if r["size"] == size and r["engine"] == engine), None)

    found: list[dict] = []
    for size in sizes:
        ours = row(size, "Sleutelbos")
        found.append(
            {
                "target": f"p99 ≤ 1 ms at {label(size)}",
                "value": f"{ours['p99_us']:.0f} µs",
                "pass": ours["p99_us"] <= TARGET_P99_US,
            }
        )
    small, large = row(10_000, "Sleutelbos"), row(1_000_000, "Sleutelbos")
    scaling = large["p99_us"] / small["p99_us"] if small and large else None
    found.append(
        {
            "target": f"p99 at 1M / p99 at 10k ≤ {TARGET_SCALING}",
            "value": f"{scaling:.2f}" if scaling else "not measured",
            "pass": scaling <= TARGET_SCALING if scaling else None,
        }
    )
    for engine, times in (("PyCasbin", TARGET_CASBIN), ("SpiceDB", TARGET_SPICEDB)):
        peer = row(PEER_TARGET_SIZE, engine)
        found.append(
            {
                "target": f"≥ {times:.0f}× {engine}'s throughput at 100k",
                "value": f"{peer['ratio']:.2f}×" if peer else "not measured",
                "pass": peer["ratio"] >= times if peer else None,
            }
        )
    return found


def print_report(rows: list[dict], builds: list[dict], found: list[dict], database: str, elapsed: float) -> None:
    from casbin_peer import NOT_EXPRESSED as CASBIN_GAPS
    from spicedb_peer import NOT_EXPRESSED as SPICEDB_GAPS

    print(f"\nDecision benchmark — database: {database}; Python {platform.python_version()}, {platform.machine()}")
    header = (
        f"{'size':>6} | {'engine':<10} | {'p50 µs':>8} | {'p99 µs':>8} | {'decisions/s':>11} | {'ratio':>8} | agree"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        print(
            f"{label(row['size']):>6} | {row['engine']:<10} | {row['p50_us']:>8.1f} | {row['p99_us']:>8.1f} | "
            f"{row['decisions_per_s']:>11.0f} | {ratio:>8} | {row['agree']}/{row['decisions']}"
        )
    print("ratio = Sleutelbos decisions/s ÷ the peer's; agree = answers equal to the reference model")
    print("\nWorld builds:")
    for build in builds:
        parts = [f"generate {build['generate_s']:.1f} s", f"database {build['database_s']:.1f} s"]
        if "casbin_s" in build:
            parts.append(f"PyCasbin {build['casbin_s']:.1f} s ({build['casbin_policies']} policies)")
        if "spicedb_s" in build:
            parts.append(f"SpiceDB {build['spicedb_s']:.1f} s ({build['spicedb_relationships']} relationships)")
        if "spicedb_skipped" in build:
            parts.append(f"SpiceDB not measured ({build['spicedb_skipped']})")
        print(f"  {label(build['size']):>6}: " + ", ".join(parts))
    print("\nNot expressed by the peers (Sleutelbos does all of these):")
    print("  PyCasbin: " + "; ".join(CASBIN_GAPS))
    print("  SpiceDB:  " + "; ".join(SPICEDB_GAPS))
    print("\nTargets:")
    for check in found:
        verdict = {True: "PASS", False: "FAIL", None: "n/a "}[check["pass"]]
        print(f"  {verdict}  {check['target']}: {check['value']}")
    print(f"\nTotal time {elapsed:.0f} s")


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    configure_django(SQLITE_NAME, quiet={"casbin": logging.WARNING})  # PyCasbin logs the whole model at INFO
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    started = time.perf_counter()
    from world import EMAIL_DOMAIN

    guard_database(args.force, [EMAIL_DOMAIN])
    database = database_description()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    rows: list[dict] = []
    builds: list[dict] = []
    for size in args.sizes:
        size_rows, build = run_size(size, args, now)
        rows.extend(size_rows)
        builds.append(build)
    found = checks(rows, args.sizes)
    elapsed = time.perf_counter() - started
    print_report(rows, builds, found, database, elapsed)

    output = write_results(
        args.output,
        "decisions",
        {
            "started": now.isoformat(),
            "database": database,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "decisions": args.decisions,
            "warmup": args.warmup,
            "seed": args.seed,
            "results": rows,
            "builds": builds,
            "checks": found,
            "elapsed_s": elapsed,
        },
        default=str,
    )
    print(f"Results written to {output}")
    wrong = [row for row in rows if row["agree"] != row["decisions"]]
    if wrong:
        print(
            "Engines disagree with the reference model: "
            + ", ".join(f"{r['engine']} at {label(r['size'])}" for r in wrong)
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
