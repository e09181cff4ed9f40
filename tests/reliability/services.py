"""Private PostgreSQL and Redis servers that a test starts, restarts and stops by itself.

The reliability tests cut every connection of the processes under test; the machine's shared
servers serve other test runs and are never touched. PostgreSQL runs from a fresh `initdb`
cluster (as the `postgres` user when the tests run as root: the server refuses root), Redis as
a subprocess without persistence, each on a free port of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """Return the directory of `initdb` and `pg_ctl` (Debian's newest first), or None."""
    for found in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(found).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _wait_port(port: int, *, up: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            listening = probe.connect_ex(("127.0.0.1", port)) == 0
        if listening == up:
            return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} is still {'closed' if up else 'open'} after {timeout}s")


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster of our own: `initdb`, then `pg_ctl start/stop/restart`."""

    bin_dir: Path
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dm-pg-")))
    _user: str | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def init(self) -> PrivatePostgres:
        """Create the cluster (trust authentication on loopback only)."""
        if os.geteuid() == 0:
            # The server refuses to run as root: the cluster belongs to `postgres`.
            self._user = "postgres"
            owner = pwd.getpwnam(self._user)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        return self

    def _options(self) -> str:
        # Durability is not what these tests are about: fsync off keeps restarts fast.
        return (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", self._options(),
            "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server with a fast shutdown: every connection is cut at once."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self, *, down_for: float = 0.0) -> None:
        """Fast shutdown, stay down `down_for` seconds, start again."""
        if not down_for:
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", self._options(),
                "-m", "fast", "-w", "-t", "60", "restart",
            )  # fmt: skip
            return
        self.stop()
        time.sleep(down_for)
        self.start()

    def running(self) -> bool:
        with socket.socket() as probe:
            probe.settimeout(0.2)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def execute(self, sql: str, *, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[call-overload]

    def destroy(self) -> None:
        """Stop the server (if it runs) and delete the cluster."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    """One `redis-server` without persistence: a restart loses every key and queued task."""

    binary: str
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dm-redis-")))
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        """Start the server and wait until it listens."""
        with (self.root / "server.log").open("ab") as log:
            command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            command += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_port(self.port, up=True, timeout=20)

    def stop(self) -> None:
        """Stop the server (SIGKILL: nothing is saved, every connection is cut)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        _wait_port(self.port, up=False, timeout=10)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop, stay down `down_for` seconds, start empty on the same port."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def destroy(self) -> None:
        with contextlib.suppress(TimeoutError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
