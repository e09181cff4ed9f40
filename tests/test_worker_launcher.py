"""The Celery worker launcher shared by the tests and the benchmark (directo_mail.testing)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

PARENT = """
import subprocess, sys
from directo_mail.testing.worker import _die_with_parent
child = subprocess.Popen(
    ["sleep", "60"], start_new_session=True, preexec_fn=_die_with_parent
)
print(child.pid, flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A dead child not yet reaped by init shows as a zombie: that is gone too.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_worker_launch_child_dies_with_its_parent():
    """A worker whose starter is killed outright stops too: it never lingers on the queue."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
