"""The benchmark's fixed parameters: the sink's addresses and password, the rate limit."""

from __future__ import annotations

SINK_PASSWORD = "bench-sink-pass"
SINK_PORT = 587
FAST_HOST, LIMITED_HOST = "127.0.0.1", "127.0.0.2"
RATE = (30, 3.0)  # Microsoft 365's 30 messages a minute, sped up to 30 per 3 seconds
RATE_CONNECTIONS = 3
RATE_TOLERANCE = 0.05  # share above the configured rate, and seconds of delivery latency
