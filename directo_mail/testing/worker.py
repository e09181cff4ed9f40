"""A real `celery -A directo_mail worker` subprocess, for the mass-mail tests and the benchmark.

The worker runs in a process group of its own, so that stopping it (or `kill -9` in the chaos
tests) takes its pool processes along. Its settings module reads the overrides the launcher
passes in `SETTINGS_OVERRIDES_VARIABLE` (JSON, by setting name) through `settings_overrides()`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS_OVERRIDES_VARIABLE = "SETTINGS_OVERRIDES_JSON"
#: Celery logs "<node> ready." once the worker consumes from the broker.
READY_MARK = b" ready."
#: prctl(2) option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


class WorkerStartError(RuntimeError):
    """The worker exited or did not become ready in time; the message holds its log tail."""


def settings_overrides() -> dict[str, Any]:
    """Return the settings a launcher overrides for this process (empty when none)."""
    overrides: dict[str, Any] = json.loads(os.environ.get(SETTINGS_OVERRIDES_VARIABLE, "{}"))
    return overrides


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _die_with_parent() -> None:
    """Ask Linux to stop the worker when the process that started it dies.

    A test run or a benchmark killed outright would otherwise leave its worker consuming the
    queue, taking the next run's tasks with stale settings.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class CeleryWorker:
    """One `celery -A directo_mail worker` (prefork pool unless told) on a given broker and DB.

    `environment` is the base of the worker's environment (this process's, by default);
    the broker, the database, the settings module, its overrides and unbuffered output are set
    on top of it. `beat_schedule` runs `celery beat` beside it with that schedule file,
    stopped and killed with the worker and logging to the worker's log.
    Not the worker's embedded beat (`-B`): its child closes every inherited descriptor under
    live Python file objects, and when one of those is collected later it closes whatever file
    reused its number (seen as "OSError: [Errno 9] Bad file descriptor" while beat loads its
    time zone, and then beat never ticks). Production runs beat as its own process too.
    """

    name: str  # the node name, e.g. "massmail0@%h"
    log: Path
    broker_url: str
    database_url: str
    settings_module: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    concurrency: int = 2
    pool: str = "prefork"
    beat_schedule: Path | None = None
    ready_timeout: float = 60
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    beat_process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def command(self) -> list[str]:
        """Return the worker's command line."""
        command = [sys.executable, "-m", "celery", "-A", "directo_mail", "worker", "-l", "info"]
        command += ["-P", self.pool, "-c", str(self.concurrency), "-n", self.name]
        # Nothing to gossip about with other workers: start faster, stay quiet.
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        return command

    def beat_command(self) -> list[str]:
        """Return the command line of the beat beside the worker."""
        command = [sys.executable, "-m", "celery", "-A", "directo_mail", "beat", "-l", "info"]
        return [*command, "-s", str(self.beat_schedule)]

    def env(self) -> dict[str, str]:
        """Return the worker's environment."""
        return {
            **self.environment,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.broker_url,
            SETTINGS_OVERRIDES_VARIABLE: json.dumps(dict(self.overrides)),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> CeleryWorker:
        """Start the worker and wait until it is ready and its pool processes exist."""
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                self.command(),
                cwd=BASE_DIR,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes the pool too
                preexec_fn=_die_with_parent,  # before exec: no threads run in the child yet
            )
            if self.beat_schedule is not None:
                self.beat_process = subprocess.Popen(  # noqa: S603  (as above)
                    self.beat_command(),
                    cwd=BASE_DIR,
                    env=self.env(),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a group of its own, signalled with the worker's
                    preexec_fn=_die_with_parent,
                )
        deadline = time.monotonic() + self.ready_timeout
        while READY_MARK not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise WorkerStartError(f"the worker did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        if self.pool == "prefork":
            while len(self.pool_pids()) < self.concurrency and time.monotonic() < deadline:
                time.sleep(0.1)
        return self

    def pool_pids(self) -> list[int]:
        """Return the process ids of the worker's pool (its child processes)."""
        return _children(self.process.pid) if self.process is not None else []

    def pids(self) -> list[int]:
        """Return the process ids of the worker and its pool."""
        return [self.process.pid, *self.pool_pids()] if self.process is not None else []

    def running(self) -> bool:
        """Return whether the worker has been started and has not exited."""
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """Ask the worker to stop (SIGTERM to its group): it finishes its current tasks."""
        if self.process is not None and self.running():
            self._signal(signal.SIGTERM)

    def join(self, timeout: float = 20) -> None:
        """Wait for the worker to exit; after `timeout` seconds kill it (SIGKILL to its group)."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
            if self.beat_process is not None:
                self.beat_process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def stop(self, timeout: float = 20) -> None:
        """Stop the worker: SIGTERM, then SIGKILL after `timeout` seconds. Idempotent."""
        self.terminate()
        self.join(timeout)

    def kill(self) -> None:
        """kill -9 the worker and its pool processes, and reap it."""
        if self.process is None:
            return
        self._signal(signal.SIGKILL)
        self.process.wait(10)
        if self.beat_process is not None:
            self.beat_process.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        """Return the end of the worker's log."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _signal(self, number: signal.Signals) -> None:
        for process in (self.process, self.beat_process):
            if process is not None:
                with contextlib.suppress(ProcessLookupError):  # the group is gone already
                    os.killpg(process.pid, number)

    def __enter__(self) -> CeleryWorker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
