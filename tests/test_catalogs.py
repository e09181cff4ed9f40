"""Translation catalogs: complete, current with the code, placeholders intact (SPEC "Languages")."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("et", "lv", "pl")
#: Every app of the project holds text a person reads: each has its own catalogs.
PACKAGES = tuple(app for app in settings.INSTALLED_APPS if (ROOT / app / "apps.py").is_file())
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")


def catalogs() -> list[Path]:
    return sorted(ROOT.glob("*/locale/*/LC_MESSAGES/*.po"))


def gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} (Debian's gettext) is needed: bin/test installs it")
    return path


def entries(po: Path) -> list[tuple[str, str, list[str]]]:
    """Return (msgid, msgstr, flags) of each entry, plural forms joined, the header left out."""
    text = po.read_text()
    found = []
    for block in re.split(r"\n\s*\n", text):
        flags = [
            f.strip() for line in re.findall(r"^#,(.*)$", block, re.M) for f in line.split(",")
        ]
        msgid = _field(block, "msgid")
        if not msgid or block.lstrip().startswith("#~"):
            continue
        msgstr = _field(block, "msgstr") + "".join(
            _field(block, f"msgstr\\[{n}\\]") for n in range(4)
        )
        found.append((msgid + _field(block, "msgid_plural"), msgstr, flags))
    return found


def _field(block: str, name: str) -> str:
    match = re.search(rf'^{name} ((?:"(?:[^"\\]|\\.)*"\s*)+)', block, re.M)
    if match is None:
        return ""
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match.group(1)))


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_exists_for_every_language(package, language):
    """Each package has a Django catalog for Estonian, Latvian and Polish."""
    assert (ROOT / package / "locale" / language / "LC_MESSAGES" / "django.po").is_file()


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_catalog_is_complete_and_well_formed(po):
    """No untranslated or fuzzy entry, and msgfmt's format checks pass."""
    result = subprocess.run(
        [gettext_tool("msgfmt"), "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        env={"LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_catalog_translations_keep_their_placeholders(po):
    """A translation, each plural form on its own, has exactly the named placeholders of its source.

    Plural forms are compared one by one: Latvian has three and Polish four, English two.
    """
    wrong = []
    for block in re.split(r"\n\s*\n", po.read_text()):
        msgid = _field(block, "msgid")
        if not msgid or block.lstrip().startswith("#~"):
            continue
        plural = _field(block, "msgid_plural")
        if plural:
            source = set(PLACEHOLDER.findall(msgid + plural))
            forms = [_field(block, f"msgstr\\[{n}\\]") for n in range(4)]
            wrong += [(msgid, f) for f in forms if f and set(PLACEHOLDER.findall(f)) != source]
            continue
        msgstr = _field(block, "msgstr")
        if msgstr and sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(msgstr)):
            wrong.append((msgid, msgstr))
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("po", catalogs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_catalog_compiled_file_is_current(po, tmp_path):
    """The committed .mo is what the .po compiles to (run `make messages` after editing)."""
    compiled = tmp_path / "django.mo"
    subprocess.run([gettext_tool("msgfmt"), "-o", str(compiled), str(po)], check=True)
    assert po.with_suffix(".mo").read_bytes() == compiled.read_bytes()


@pytest.mark.parametrize("package", PACKAGES)
def test_catalog_has_every_string_of_the_code(package, tmp_path):
    """makemessages finds no message in the code that the committed catalogs lack."""
    gettext_tool("xgettext")
    copy = tmp_path / package
    shutil.copytree(ROOT / package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    for domain, options in (("django", ["--extension=html,txt,py"]), ("djangojs", [])):
        subprocess.run(
            [
                sys.executable,
                # -P: the copy is the working directory, and its modules (events/selectors.py,
                # directo_mail/celery.py) must not shadow the standard library or packages.
                "-P",
                "-m",
                "django",
                "makemessages",
                "--locale=et",
                f"--domain={domain}",
                "--no-obsolete",
                "--no-location",
                *options,
            ],
            cwd=copy,
            check=True,
            capture_output=True,
            # No settings, as `make messages` runs it: with them, Celery's Django fix-up puts the
            # working directory first on sys.path, and mailer/events.py would shadow `events`.
            env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        )
        fresh_po = copy / f"locale/et/LC_MESSAGES/{domain}.po"
        if not fresh_po.exists():
            continue  # no message of this domain in the package
        committed_po = ROOT / package / f"locale/et/LC_MESSAGES/{domain}.po"
        assert committed_po.is_file(), f"{package} has {domain} messages but no {committed_po}"
        fresh = {msgid for msgid, _, _ in entries(fresh_po)}
        committed = {msgid for msgid, _, _ in entries(committed_po)}
        missing = sorted(fresh - committed)
        assert not missing, f"run `make messages APPS={package}` and translate: {missing[:10]}"
