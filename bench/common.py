"""What the benchmarks share: Django configured for a benchmark database, its guard and reset, and the statistics.

The benchmarks (``decisions.py``, ``login.py``) run against ``DATABASE_URL`` or, without it, a SQLite file of their
own under ``var/``, and empty that database before they measure. ``guard_database`` refuses to empty one that holds
people a benchmark did not create; ``reset_database`` leaves it empty and migrated.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# A time in nanoseconds divided by one of these is in microseconds or milliseconds.
UNIT_NS = {"us": 1_000, "ms": 1_000_000}


def configure_django(sqlite_name: str, *, quiet: dict[str, int] | None = None) -> bool:
    """Django settings from the environment; without ``DATABASE_URL``, the benchmark's own SQLite file.

    ``sqlite_name`` is that file's name under ``var/``; ``quiet`` maps logger names to the level they log from.
    Returns whether the database was given (``DATABASE_URL`` set before the script started)."""
    given = bool(os.environ.get("DATABASE_URL"))
    os.environ.setdefault("SLEUTELBOS_VAR_DIR", str(ROOT / "var"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / sqlite_name}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sleutelbos.settings")
    # Production behaviour: secure cookies, and no query log (with DEBUG on, Django keeps every query, which would be
    # measured too).
    os.environ["DEBUG"] = "0"
    import logging

    import django

    django.setup()
    for name, level in (quiet or {}).items():
        logging.getLogger(name).setLevel(level)
    return given


def database_description(*, server_version: bool = True) -> str:
    """The database in one line: vendor, version (``server_version``: the server's too) and where it is."""
    from django.db import connection

    if connection.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})"
    settings = connection.settings_dict
    where = f"({settings['HOST']}:{settings['PORT']}/{settings['NAME']})"
    if not server_version:
        return f"{connection.display_name} {where}"
    connection.ensure_connection()
    version = connection.connection.info.server_version if connection.vendor == "postgresql" else ""
    return f"{connection.display_name} {version} {where}"


def guard_database(force: bool, domains: Iterable[str]) -> None:
    """Refuse to empty a database that holds people the benchmarks did not make (unless ``force``).

    ``domains`` are the e-mail domains of the people a benchmark may find there: its own and those of a benchmark
    that shares the database."""
    from django.db import DatabaseError

    from sleutelbos.identity.models import Person

    people = Person.objects.all()
    for domain in domains:
        people = people.exclude(email__endswith=f"@{domain}")
    try:
        foreign = people.exists()
    except DatabaseError:
        return  # no tables yet
    if foreign and not force:
        sys.exit(
            "This database holds people the benchmark did not create and the benchmark empties it. Point "
            "DATABASE_URL at a database for the benchmark, or pass --force."
        )


def reset_database(*, sqlite_pragmas: Sequence[str] = ()) -> None:
    """An empty, migrated database.

    A SQLite file is removed (with its -wal, -shm and -journal files) and migrated anew, then ``sqlite_pragmas``
    (e.g. ``"synchronous = OFF"`` for bulk loading) are set on the connection; other databases are migrated and
    flushed."""
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        connection.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)
        call_command("migrate", verbosity=0, interactive=False)
        if sqlite_pragmas:
            with connection.cursor() as cursor:
                for pragma in sqlite_pragmas:
                    cursor.execute(f"PRAGMA {pragma}")
    else:
        call_command("migrate", verbosity=0, interactive=False)
        call_command("flush", verbosity=0, interactive=False)


def percentile(values: Sequence[int], q: float, unit: str = "ms") -> float:
    """The q-th percentile (nearest rank) of nanosecond values, in ``unit`` (``us`` or ``ms``)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / UNIT_NS[unit]


def latency_summary(latencies: Sequence[int], unit: str) -> dict[str, float]:
    """p50 and p99 of nanosecond latencies in ``unit``, keyed ``p50_<unit>`` and ``p99_<unit>``."""
    return {f"p50_{unit}": percentile(latencies, 0.50, unit), f"p99_{unit}": percentile(latencies, 0.99, unit)}


def write_results(
    output: Path | None, name: str, results: dict[str, Any], *, default: Callable[[Any], Any] | None = None
) -> Path:
    """Write the results as JSON to ``output``, by default ``var/bench/<name>-<time>.json``; the file written."""
    output = output or ROOT / "var" / "bench" / f"{name}-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=default))
    return output
