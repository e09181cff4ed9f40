"""The benchmark's fixed parameters: the sink's addresses and password, the rate limit."""

from __future__ import annotations

import os
import random

SINK_PASSWORD = "bench-sink-pass"
SINK_PORT = 587
#: The sink's loopback network, chosen per run (BENCH_NETWORK="127.x.y." fixes it), so that a
#: run beside another (a test's smoke run) never finds its ports taken.
NETWORK = os.environ.get("BENCH_NETWORK") or (
    f"127.{random.SystemRandom().randint(15, 254)}.{random.SystemRandom().randint(0, 255)}."
)
FAST_HOST, LIMITED_HOST = f"{NETWORK}1", f"{NETWORK}2"
RATE = (30, 3.0)  # Microsoft 365's 30 messages a minute, sped up to 30 per 3 seconds
RATE_CONNECTIONS = 3
RATE_TOLERANCE = 0.05  # share above the configured rate, and seconds of delivery latency

# The month-end scenario: every user on a mail server of their own (a loopback address of the
# sink). Providers' limits are sped up 20 times, so that minutes of sending take seconds.
SPEED_UP = 20
MONTH_END_FIRST = 3  # user i's server: NETWORK + (i + 3), after the fast and limited hosts
MONTH_END_RATES = {  # provider: ((messages, seconds), concurrent connections), sped up
    "microsoft365": ((30, 60 / SPEED_UP), 3),  # 30 a minute, 3 connections
    "zone": ((1, 5 / SPEED_UP), 1),  # 1 message per 5 seconds, 1 connection
}
MONTH_END_TICK = 30 / SPEED_UP  # the mass-mail tick (MAILER_TICK_SECONDS: 30 s in production)
FIRST_SENT_SECONDS = 5.0  # every job's first message within this many seconds of the start
MAX_FAIRNESS = 1.5

#: The product hook the stored form waits for (`module:function`, called with keyword
#: arguments `card` and `invoice_ids`): render the invoices' documents and store them, so that
#: a job over those invoices sends the stored documents instead of rendering them. The product
#: has none yet; when it has, the benchmark calls it once before timing (variant
#: "project_stored") and reports "this project, stored documents" beside "renders per send".
STORED_HOOK = "invoices.mailing:invoice_documents_store"
