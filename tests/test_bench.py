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
PEERS = ("raw_one", "raw_two", "naive", "django", "post_office")
VARIANTS = (
    {f"{name}/invoice" for name in PEERS}
    | {f"{name}/render" for name in PEERS}
    | {"project/invoice", "project/render"}
    | {"raw_one/small", "raw_two/small", "django/small", "project/small"}
)

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
            "--month-end-users=3",
            "--month-end-invoices=5",
            "--profile-n=5",
            "--warm-up=2",
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
    assert set(report["variants"]) - {"project_stored/invoice"} == VARIANTS
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
    month = report["month_end"]
    assert month["delivered"] == month["messages"] == 15
    assert [job["provider"] for job in month["jobs"]] == ["microsoft365", "plain", "zone"]
    assert all(job["first_sent_seconds"] is not None for job in month["jobs"])
    assert month["rejected_432"] == 0 and month["limits_held"]
    assert report["profile"]["messages"] == 5
    assert any(row["target"].startswith("render: project") for row in report["targets"])


def test_month_end_servers_and_limits_match():
    """Each month-end user has a server of their own, and the provider limits name its host."""
    from bench.monthend import provider_limits, servers

    chosen = servers(20)
    assert len({server.host for server in chosen}) == 20
    assert {server.port for server in chosen} <= {25, 465, 587}
    assert [s.provider for s in chosen].count("microsoft365") == 3
    assert chosen[-1].provider == "zone"
    limits = {entry["name"]: entry for entry in provider_limits(chosen)}
    assert limits["zone-bench"]["hosts"] == [chosen[-1].host]
    assert limits["zone-bench"]["connections"] == 1
    assert len(limits["microsoft365-bench"]["hosts"]) == 3
