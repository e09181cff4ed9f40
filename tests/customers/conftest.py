"""The mass-mail fixtures (fast settings, test Redis, counting servers, workers) for customers."""

from tests.massmail.conftest import mass_server, mass_settings, redis_url, workers  # noqa: F401
