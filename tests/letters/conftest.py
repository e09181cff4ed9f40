"""The mass-mail fixtures (fast settings, test Redis, counting SMTP servers) for letters."""

from tests.massmail.conftest import mass_server, mass_settings, redis_url  # noqa: F401
