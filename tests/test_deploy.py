"""Deployment files: .env.example, README, docker-compose.yml, Dockerfile and the CI entry."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from celery.app.utils import find_app
from celery.bin.celery import celery as celery_cli
from django.core.management import get_commands

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = {"DJANGO_SECRET_KEY": "compose-test-secret", "FIELD_ENCRYPTION_KEYS": "compose-test-key"}

# env.str("NAME" …), env.bool(…), env.db(…), env("NAME") and the environ.Env(NAME=(type, …)) schema.
ENV_CALL = re.compile(r"\benv(?:\.[a-z_]+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")
ENV_SCHEMA = re.compile(r"^\s+([A-Z][A-Z0-9_]*)=\(", re.MULTILINE)
EXAMPLE_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def project_env_names() -> set[str]:
    """Return the variable names the project's Python code reads through django-environ."""
    names: set[str] = set()
    apps = ("users", "events", "oauth365", "mailer", "massmail", "invoices", "deliverability")
    for package in ("directo_mail", *apps, "portal"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names.update(ENV_CALL.findall(text))
            if "environ.Env(" in text:
                names.update(ENV_SCHEMA.findall(text))
    return names


def example_env_names() -> set[str]:
    return set(EXAMPLE_LINE.findall((ROOT / ".env.example").read_text()))


def compose_commands() -> dict[str, list[str]]:
    """Return each service's command (the file writes them as JSON-style flow lists)."""
    commands: dict[str, list[str]] = {}
    service = ""
    for line in COMPOSE_FILE.read_text().splitlines():
        if match := re.match(r"^  ([a-z][a-z0-9_-]*):\s*$", line):
            service = match.group(1)
        elif match := re.match(r"^    command:\s*(.*)$", line):
            commands[service] = json.loads(match.group(1))
    return commands


def docker_compose(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run docker-compose on the project's file, isolated from any local .env."""
    binary = shutil.which("docker-compose")
    if binary is None:
        service_missing("docker-compose is not installed (bin/test installs Debian's package)")
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    return subprocess.run(
        [binary, "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_names_found_in_project():
    """The scan finds the variables settings.py and env.py read (so the checks below can fail)."""
    names = project_env_names()
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "MAILER_TIMEOUT"} <= names


def test_env_example_lists_every_variable_the_project_reads():
    """Every environment variable read in the code appears in .env.example."""
    missing = project_env_names() - example_env_names()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_lists_only_variables_the_project_reads():
    """.env.example documents no variable that nothing reads any more."""
    stale = example_env_names() - project_env_names()
    assert not stale, f"no code reads: {sorted(stale)}"


def test_readme_documents_every_variable():
    """The README's configuration section names every variable of .env.example."""
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in example_env_names() if f"`{name}`" not in readme}
    assert not missing, f"document in README.md: {sorted(missing)}"


def test_readme_opens_with_the_two_commands():
    """The README's first code block runs the app and the tests."""
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "./bin/run" in first_block and "./bin/test" in first_block


def test_compose_config_is_valid(tmp_path):
    """`docker-compose config -q` accepts the file when the required secrets are set."""
    result = docker_compose("config", "-q", env=SECRETS, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_compose_config_requires_secret(tmp_path, name):
    """Without a required secret, compose refuses to start and names the variable."""
    env = {key: value for key, value in SECRETS.items() if key != name}
    result = docker_compose("config", "-q", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert name in result.stderr


def test_compose_has_the_services(tmp_path):
    """Compose defines web, worker, beat, the event mailbox, PostgreSQL, Redis, a mail catcher."""
    result = docker_compose("config", "--services", env=SECRETS, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    services = {"web", "worker", "beat", "event-mailbox", "db", "redis", "mailpit"}
    assert set(result.stdout.split()) == services


def test_compose_passes_every_project_variable():
    """Each project variable reaches the app containers, so compose is configured the same way."""
    text = COMPOSE_FILE.read_text()
    missing = {name for name in example_env_names() if f"{name}: ${{{name}:" not in text}
    assert not missing, f"pass through in docker-compose.yml: {sorted(missing)}"


def test_compose_commands_exist_in_project():
    """Every manage.py command, WSGI module and Celery app that compose runs exists."""
    commands = compose_commands()
    assert {"web", "worker", "beat"} <= set(commands)
    shell = " ".join(" ".join(command) for command in commands.values())
    management = re.findall(r"manage\.py\s+([a-z_]+)", shell)
    assert {"migrate", "collectstatic"} <= set(management)
    assert set(management) <= set(get_commands())
    assert (ROOT / "manage.py").is_file()
    wsgi_targets = re.findall(r"gunicorn\s+([\w.]+):(\w+)", shell)
    assert wsgi_targets == [("directo_mail.wsgi", "application")]
    for module, attribute in wsgi_targets:
        assert callable(getattr(importlib.import_module(module), attribute))
    for service in ("worker", "beat"):
        command = commands[service]
        app_name = command[command.index("-A") + 1]
        assert find_app(app_name).main == "directo_mail"
        assert command[command.index("-A") + 2] in celery_cli.commands


def test_dockerfile_runs_the_wsgi_app_as_non_root():
    """The image is python:3.13-slim, installs the project and runs gunicorn as a non-root user."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.13-slim\b", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    cmd = json.loads(re.findall(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.MULTILINE)[-1])
    assert cmd[:2] == ["gunicorn", "directo_mail.wsgi:application"]
    for source in re.findall(r"^COPY\s+(\S+)\s+\S+$", dockerfile, re.MULTILINE):
        assert (ROOT / source).exists(), f"Dockerfile copies a missing {source}"
    assert ".venv" in (ROOT / ".dockerignore").read_text().split()


def test_ci_run_executes_bin_test():
    """.ci/run runs exactly bin/test, and the scripts are executable in the repository."""
    ci_run = (ROOT / ".ci/run").read_text()
    assert re.search(r"^exec bin/test$", ci_run, re.MULTILINE)
    for script in (".ci/run", "bin/run", "bin/test"):
        assert os.access(ROOT / script, os.X_OK), f"{script} is not executable"


def test_makefile_targets_call_the_scripts():
    """make run / test / lint exist and call bin/run, bin/test and the linters bin/test runs."""
    makefile = (ROOT / "Makefile").read_text()
    targets = dict(re.findall(r"^([a-z]+):\n((?:\t.*\n?)+)", makefile, re.MULTILINE))
    assert "./bin/run" in targets["run"]
    assert "./bin/test" in targets["test"]
    assert "lint_run" in targets["lint"]
    assert re.search(r"^lint_run \|\| status=1$", (ROOT / "bin/test").read_text(), re.MULTILINE)


def test_readme_commands_marked_ready_exist():
    """Every command the README lists as ready is a real manage.py command."""
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)[^|]*\|.*\| (ready|coming) \|$", readme, re.MULTILINE)
    ready = {name for name, status in rows if status == "ready"}
    assert {"seed_demo", "import_usercards", "export_usercards", "mail_settings"} <= ready
    assert ready <= set(get_commands()), sorted(ready - set(get_commands()))
