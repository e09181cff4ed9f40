"""bin/lib.sh (finding Python, the install stamp) and bin/run end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "bin" / "lib.sh"
SYSTEM_PATH = "/usr/bin:/bin"


def fake_python(path: Path, *, works: bool) -> Path:
    """Write an executable that behaves as a new-enough Python, or as a refusing pyenv shim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = f'exec {sys.executable} "$@"' if works else 'echo "pyenv: not selected" >&2; exit 127'
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def lib_call(script: str, *, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", "-c", f'. "{LIB}" && {script}'],
        env={"HOME": env.get("HOME", "/nonexistent"), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
def shims(tmp_path):
    """A PATH folder whose python3.14 … python3 all refuse to run, as unselected pyenv shims do."""
    folder = tmp_path / "shims"
    for name in ("python3.14", "python3.13", "python3.12", "python3"):
        fake_python(folder / name, works=False)
    return folder


def test_python_find_skips_commands_that_do_not_run(shims):
    """A candidate on PATH that refuses to run is skipped for the next one that works."""
    good = fake_python(shims / "python3.13", works=True)
    result = lib_call(
        "python_find", env={"PATH": f"{shims}:{SYSTEM_PATH}", "PYTHON_SEARCH_ROOTS": ""}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(good)


def test_python_find_takes_newest_pyenv_version(shims, tmp_path):
    """With nothing usable on PATH, the newest pyenv version >= 3.12 is chosen."""
    root = tmp_path / "pyenv"
    fake_python(root / "versions/3.11.7/bin/python3", works=True)
    fake_python(root / "versions/3.12.1/bin/python3", works=True)
    newest = fake_python(root / "versions/3.13.0/bin/python3", works=True)
    result = lib_call(
        "python_find", env={"PATH": f"{shims}:{SYSTEM_PATH}", "PYTHON_SEARCH_ROOTS": str(root)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(newest)


def test_python_find_names_the_fix_when_none_found(shims, tmp_path):
    """Without any Python >= 3.12 the error says what was tried and how to fix it."""
    result = lib_call(
        "python_find",
        env={"PATH": f"{shims}:{SYSTEM_PATH}", "PYTHON_SEARCH_ROOTS": str(tmp_path / "none")},
    )
    assert result.returncode != 0
    assert "no Python >= 3.12 found" in result.stderr
    assert "PYTHON=" in result.stderr and "pyenv install" in result.stderr


def test_install_is_current_follows_pyproject(tmp_path):
    """The stamp is current for the installed extras, dev serves runtime, another hash is stale."""
    venv = tmp_path / "venv"
    fake_python(venv / "bin/python", works=True)
    env = {"PATH": SYSTEM_PATH, "VENV_DIR": str(venv)}
    checks = (
        "install_is_current runtime && echo runtime-ok; install_is_current dev && echo dev-ok; true"
    )
    lib_call('install_wanted dev > "$VENV_DIR/.install-stamp"', env=env)
    assert lib_call(checks, env=env).stdout.split() == ["runtime-ok", "dev-ok"]
    lib_call('install_wanted runtime > "$VENV_DIR/.install-stamp"', env=env)
    assert lib_call(checks, env=env).stdout.split() == ["runtime-ok"]
    (venv / ".install-stamp").write_text("0000 dev\n")
    assert lib_call(checks, env=env).stdout.split() == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(sid: int) -> list[str]:
    result = subprocess.run(
        ["ps", "-o", "pid=,args=", "-s", str(sid)], capture_output=True, text=True, check=False
    )
    return [line for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.slow
def test_bin_run_serves_app_with_worker_and_stops_cleanly(tmp_path):
    """bin/run seeds, prints logins, serves pages beside worker and beat; SIGTERM stops all."""
    stamp_check = lib_call("install_is_current runtime", env={"PATH": SYSTEM_PATH})
    if stamp_check.returncode != 0:
        service_missing(".venv is not installed for this pyproject.toml (run bin/test once)")
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / "bin/run")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        url = f"http://127.0.0.1:{port}/"
        while time.monotonic() < deadline:
            text = log.read_text()
            if f"runs at {url}" in text and " ready." in text and "beat: Starting" in text:
                break
            assert process.poll() is None, text
            time.sleep(0.5)
        else:
            pytest.fail(f"bin/run did not start in time:\n{log.read_text()}")
        text = log.read_text()
        assert "username admin  password admin-demo" in text
        assert "username KIVI  password user-demo" in text
        with urllib.request.urlopen(f"{url}accounts/login/", timeout=10) as response:
            assert response.status == 200
            assert b'name="username"' in response.read()
        with urllib.request.urlopen(f"{url}admin/", timeout=10) as response:
            assert response.url.startswith(f"{url}admin/login/")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while session_processes(process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session_processes(process.pid) == []
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        if process.poll() is None or session_processes(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
