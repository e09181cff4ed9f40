"""Settings of the benchmark and its workers: the project's, post_office, JSON overrides.

Settings are overridden by name from JSON in the environment (directo_mail.testing.worker's
`settings_overrides`), as the mass-mail tests do for their workers. With
`BENCH_COUNT_STATEMENTS` set, every database statement a process runs is counted (see
bench.counting).
"""

from __future__ import annotations

import os

from directo_mail.settings import *  # noqa: F403
from directo_mail.settings import INSTALLED_APPS
from directo_mail.testing.worker import settings_overrides

INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

globals().update(settings_overrides())

if os.environ.get("BENCH_COUNT_STATEMENTS"):
    from bench.counting import statement_counting_install

    statement_counting_install()
