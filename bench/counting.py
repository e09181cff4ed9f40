"""Counting the database statements of a process, readable from another process.

Each process that installs the counter keeps its running total in a file of its own
(`<directory>/<pid>`, 8 bytes), rewritten in place after every statement: a syscall is cheap
next to a round trip to PostgreSQL, and the benchmark reads the totals of worker processes
without asking them. PostgreSQL's pg_stat_statements would count without touching the
workers, but it needs `shared_preload_libraries` and a server restart.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV_DIRECTORY = "BENCH_COUNT_STATEMENTS"
_state: dict[str, Any] = {"pid": None, "fd": None, "count": 0}


def _bump() -> None:
    pid = os.getpid()
    if _state["pid"] != pid:  # a forked child (Celery's pool) counts in a file of its own
        directory = Path(os.environ[ENV_DIRECTORY])
        directory.mkdir(parents=True, exist_ok=True)
        _state.update(
            pid=pid,
            count=0,
            fd=os.open(directory / str(pid), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600),
        )
    _state["count"] += 1
    os.pwrite(_state["fd"], struct.pack("<Q", _state["count"]), 0)


def _wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    _bump()
    return execute(sql, params, many, context)


def _on_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_wrapper)


def statement_counting_install() -> None:
    """Count every statement of every database connection this process opens from now on."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_on_connection, dispatch_uid="bench-statement-counter")


def statements_total(directory: Path) -> int:
    """Return the statements counted so far by every process that counts into `directory`."""
    total = 0
    for path in directory.glob("[0-9]*"):
        data = path.read_bytes()
        if len(data) >= 8:
            total += struct.unpack("<Q", data[:8])[0]
    return total
