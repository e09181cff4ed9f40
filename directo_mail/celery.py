"""The Celery application `directo_mail` (`celery -A directo_mail worker`)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directo_mail.settings")

app = Celery("directo_mail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
