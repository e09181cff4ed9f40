"""Smoke test of the benchmark harness: tiny N, one round, every variant delivers everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_missing

BASE_DIR = Path(__file__).resolve().parents[1]
VARIANTS = {
    f"{name}/invoice" for name in ("raw_one", "raw_two", "naive", "django", "post_office")
} | {"project/invoice", "raw_one/small", "raw_two/small", "django/small", "project/small"}

pytestmark = [pytest.mark.celery, pytest.mark.timeout(300)]


def _services() -> tuple[str, str]:
    import psycopg
    import redis

    postgres = "postgres://postgres@127.0.0.1:5432"
    url = "redis://127.0.0.1:6379/9"
    try:
        psycopg.connect(f"{postgres}/postgres", connect_timeout=3).close()
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        service_missing(f"the benchmark needs PostgreSQL and Redis on 127.0.0.1 ({exc})")
    return postgres, url


def test_bench_run_reports_every_variant(tmp_path):
    """`python -m bench.run` with 10 messages and one round writes the whole JSON report."""
    pytest.importorskip("post_office")
    postgres, redis_url = _services()
    output = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--n=10",
            "--rounds=1",
            "--enqueue=200",
            "--memory-n=30",
            "--rate-n=40",
            "--database=bench_directo_smoke",
            f"--postgres={postgres}",
            f"--redis={redis_url}",
            f"--output={output}",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(output.read_text())
    assert set(report["variants"]) == VARIANTS
    for key, runs in report["runs"].items():
        assert len(runs) == 1, key
        assert round(runs[0]["rate"] * runs[0]["seconds"]) == 10, key
        assert runs[0]["connections"] >= 1, key
    assert report["variants"]["naive/invoice"]["connections"] == 10
    assert report["variants"]["project/invoice"]["statements_per_message"] > 0
    assert report["enqueue"]["messages"] >= 200
    assert report["memory"]["job_messages"] == 30
    limited = report["rate_limited"]
    assert limited["delivered"] == limited["sent"] == 40
    assert limited["rejected_432"] == 0
    assert {row["target"] for row in report["targets"]} and all(
        isinstance(row["met"], bool) for row in report["targets"]
    )
    assert "| this project" in completed.stdout
