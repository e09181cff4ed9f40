"""Settings of the test worker processes: the project's, plus overrides from the test."""

from __future__ import annotations

import json
import os

from directo_mail.settings import *  # noqa: F403

globals().update(json.loads(os.environ.get("MASSMAIL_TEST_SETTINGS", "{}")))
