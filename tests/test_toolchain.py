"""The toolchain: the checks bin/test runs, the lock files and the import contract's coverage."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {"runtime": ROOT / "requirements/runtime.txt", "dev": ROOT / "requirements/dev.txt"}
LOCK_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(kind: str) -> dict[str, str]:
    """Return {normalized name: version} of a lock file."""
    return {
        normalized(name): version for name, version in LOCK_PIN.findall(LOCKS[kind].read_text())
    }


def declared(requirements: list[str]) -> set[str]:
    return {normalized(REQUIREMENT_NAME.match(line).group(1)) for line in requirements}


def test_lint_run_runs_every_check():
    """bin/lib.sh's lint_run (bin/test and make lint) runs ruff, ruff format, mypy, lint-imports."""
    lib = (ROOT / "bin/lib.sh").read_text()
    body = lib[lib.index("lint_run() {") :]
    body = body[: body.index("\n}\n")]
    for check in ('ruff" check .', 'ruff" format --check .', 'mypy" .', 'lint-imports"'):
        assert f"{check} || status=1" in body.replace(" --no-cache", ""), check


def test_lock_files_pin_every_declared_dependency():
    """Each dependency of pyproject.toml is pinned in the lock (else run `make lock`)."""
    project = PYPROJECT["project"]
    runtime = declared(project["dependencies"])
    dev = runtime | declared(project["optional-dependencies"]["dev"])
    assert not runtime - locked("runtime").keys(), "run `make lock`"
    assert not dev - locked("dev").keys(), "run `make lock`"


def test_lock_files_agree_and_carry_hashes():
    """The dev lock pins every runtime package at the runtime version; every pin has a hash."""
    runtime, dev = locked("runtime"), locked("dev")
    assert {name: dev.get(name) for name in runtime} == runtime
    for path in LOCKS.values():
        for entry in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
            if LOCK_PIN.match(entry):
                assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_fpdf2_pinned_to_the_locked_version():
    """The PDF code uses fpdf2 internals: pyproject.toml pins the exact version the lock holds."""
    pins = [line for line in PYPROJECT["project"]["dependencies"] if line.startswith("fpdf2")]
    assert pins == [f"fpdf2=={locked('runtime')['fpdf2']}"]


def test_import_contract_covers_every_app():
    """lint-imports and the package cover every top-level package but tests/ and bench/."""
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {name.rstrip("*") for name in include} == packages
    assert set(PYPROJECT["tool"]["importlinter"]["root_packages"]) == packages


def test_compose_images_are_pinned():
    """Every image docker-compose.yml runs names an exact version, never a floating tag."""
    images = re.findall(
        r"^\s+image:\s*(\S+)\s*$", (ROOT / "docker-compose.yml").read_text(), re.MULTILINE
    )
    assert images
    for image in images:
        tag = image.rpartition(":")[2]
        assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), f"pin {image} to an exact version"
    assert f"directo-mail:{PYPROJECT['project']['version']}" in images
