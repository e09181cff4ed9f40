"""Settings of the test worker processes: the project's, plus overrides from the test."""

from __future__ import annotations

from directo_mail.settings import *  # noqa: F403
from directo_mail.testing.worker import settings_overrides

globals().update(settings_overrides())
