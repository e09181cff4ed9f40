"""Deployment safety: production by default, no DEBUG on public hosts, no secret in a report."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, technical_500_response

from directo_mail.checks import debug_public_hosts_check
from directo_mail.env import proxy_ssl_header
from directo_mail.reporting import CredentialSafeExceptionReporterFilter, url_credentials_mask
from mailer.exceptions import MailDeliveryError
from mailer.platform import relay_url_parse
from mailer.transport import SmtpTransport
from oauth365.client import msal_app_build
from oauth365.exceptions import M365AuthError

ROOT = Path(__file__).resolve().parent.parent
MASK = CredentialSafeExceptionReporterFilter.cleansed_substitute

# Each configured secret is distinct, so a test can say which one leaked.
BROKER_PASSWORD = "broker-Pw-4417"
RELAY_PASSWORD = "relay-Pw-9921"
LIMITS_PASSWORD = "limits-Pw-3308"
CACHE_PASSWORD = "cache-Pw-7765"
SMTP_PASSWORD = "Wrong-Smtp-Secret-77"
CLIENT_SECRET = "client-Secret-5512"


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with only the given environment (no checkout .env)."""
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- Production by default -------------------------------------------------------------------
def test_dockerfile_defaults_to_production():
    """The image sets DJANGO_ENV=production, so a bare `docker run` gets no DEBUG nor dev key."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV\s+DJANGO_ENV=production\s*$", dockerfile, re.MULTILINE)


# --- DEBUG on public hosts -------------------------------------------------------------------
def test_debug_public_hosts_check_refuses_debug_on_public_host(settings):
    """DEBUG with a non-local ALLOWED_HOSTS entry is an Error that names the fix."""
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["localhost", "mail.example.com"]
    [error] = debug_public_hosts_check()
    assert error.id == "directo_mail.E002" and error.level == checks.ERROR
    assert "mail.example.com" in error.msg and "DJANGO_ENV=production" in error.hint
    assert error.id in {message.id for message in checks.run_checks(tags=[checks.Tags.security])}


@pytest.mark.parametrize(
    "hosts",
    [
        [],
        ["localhost", "127.0.0.1", "[::1]", "::1", "testserver"],
        [".localhost", "app.localhost", "LOCALHOST."],
    ],
)
def test_debug_public_hosts_check_allows_local_hosts(settings, hosts):
    """DEBUG is fine while the app answers only to loopback names (and the test client)."""
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = hosts
    assert debug_public_hosts_check() == []


def test_debug_public_hosts_check_ignores_public_hosts_without_debug(settings):
    """Without DEBUG, public host names are the normal production case."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    assert debug_public_hosts_check() == []


def test_manage_check_fails_on_debug_with_public_hosts(tmp_path):
    """`manage.py check` (run before migrate and runserver) exits non-zero naming the error."""
    env = {
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "true",
        "DJANGO_ALLOWED_HOSTS": "mail.example.com",
    }
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "directo_mail.E002" in result.stderr


# --- Error reports ---------------------------------------------------------------------------
def test_url_credentials_mask_hides_passwords_only():
    """A URL keeps its user and host, loses its password; a lone userinfo is masked whole."""
    text = "redis://:p%40ss@cache:6379/1 smtps://relay:a@b@relay.test:465 redis://tok@h/0 http://h/"
    assert url_credentials_mask(text, "***") == (
        "redis://:***@cache:6379/1 smtps://relay:***@relay.test:465 redis://***@h/0 http://h/"
    )


def test_technical_500_masks_configured_credentials(settings):
    """The DEBUG error page shows no configured URL password, nested ones included."""
    settings.DEBUG = True
    settings.CELERY_BROKER_URL = f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/12"
    settings.PLATFORM_RELAY_URL = f"smtps://relay:{RELAY_PASSWORD}@relay.test:465"
    settings.MAILER_LIMITS_REDIS_URL = f"redis://default:{LIMITS_PASSWORD}@127.0.0.1:6379/3"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Only its LOCATION matters here: a Redis URL nested two levels deep.
        "shared": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": [f"redis://cache:{CACHE_PASSWORD}@127.0.0.1:6379/1"],
        },
    }
    settings.OAUTH365_CLIENT_SECRET = CLIENT_SECRET
    request = RequestFactory().get("/boom/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    for secret in (BROKER_PASSWORD, RELAY_PASSWORD, LIMITS_PASSWORD, CACHE_PASSWORD, CLIENT_SECRET):
        assert secret not in page
    assert "smtps://relay:" + MASK in page  # masked, not dropped: the host stays for debugging


@pytest.mark.parametrize("name", ["SENTRY_DSN", "MAILER_CREDENTIALS", "SIGNING_SALT", "PRIVATE"])
def test_reporter_filter_hides_secret_named_settings(name):
    """Settings named like a secret are replaced whatever their value."""
    assert CredentialSafeExceptionReporterFilter().cleanse_setting(name, "plain") == MASK


def report_text(exc_info) -> str:
    """Return Django's reports of an exception: text and HTML (only HTML lists frame locals)."""
    reporter = ExceptionReporter(None, *exc_info)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


@pytest.mark.parametrize("debug", [False, True])
def test_transport_auth_report_hides_password(settings, smtp_server, debug):
    """A rejected SMTP login, reported by Django, shows neither the password nor its AUTH form."""
    settings.DEBUG = debug
    server = smtp_server(tls="no", users={"kivi@acme.test": "the-right-one"})
    transport = SmtpTransport(
        host=server.name,
        port=server.port,
        ssl_tls="no",
        username="kivi@acme.test",
        password=SMTP_PASSWORD,
        connect_address=server.address,
    )
    try:
        transport.send("kivi@acme.test", ["customer@example.test"], b"Subject: x\r\n\r\nx\r\n")
    except MailDeliveryError:
        text = report_text(sys.exc_info())
    finally:
        transport.close()
    assert "_auth_password" in text  # the frame is in the report, only its values are hidden
    assert SMTP_PASSWORD not in text
    auth_plain = base64.b64encode(b"\0kivi@acme.test\0" + SMTP_PASSWORD.encode()).decode()
    assert auth_plain not in text


def test_relay_url_parse_report_hides_password():
    """A malformed PLATFORM_RELAY_URL, reported by Django, does not show its password."""
    try:
        relay_url_parse(f"smtp://relay:{RELAY_PASSWORD}@relay.test:99999")
    except Exception:
        text = report_text(sys.exc_info())
    assert "relay_url_parse" in text and RELAY_PASSWORD not in text


def test_msal_app_build_report_hides_client_secret(settings):
    """An unreachable identity provider, reported by Django, does not show the client secret."""
    settings.OAUTH365_CLIENT_ID = "client-id"
    settings.OAUTH365_CLIENT_SECRET = CLIENT_SECRET
    settings.OAUTH365_AUTHORITY = "https://127.0.0.1:9/tenant"  # loopback, nothing listens
    try:
        msal_app_build()
    except M365AuthError:
        text = report_text(sys.exc_info())
    assert "msal_app_build" in text and CLIENT_SECRET not in text


# --- HTTPS headers ---------------------------------------------------------------------------
PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "a-production-secret-key-" + "x7Qp2Lm9Vz4Rt8Wk3Yh6Jd1Nb5Fc0Gs" * 2,
    "DJANGO_ALLOWED_HOSTS": "mail.example.com",
}
HTTPS_SETTINGS = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
)


def https_settings(env: dict[str, str], tmp_path: Path) -> list:
    """Return the HTTPS settings a fresh process computes from env, in HTTPS_SETTINGS order."""
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps([getattr(settings, name) for name in {HTTPS_SETTINGS!r}]))"
    )
    result = manage("shell", "-c", code, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_https_settings_on_in_production(tmp_path):
    """Production redirects to HTTPS and sends HSTS for a year with subdomains, no preload."""
    assert https_settings(PRODUCTION, tmp_path) == [True, 31536000, True, False, None]


def test_https_settings_off_in_development(tmp_path):
    """Development (bin/run on plain http://127.0.0.1) neither redirects nor sends HSTS."""
    assert https_settings({"DJANGO_ENV": "development"}, tmp_path) == [False, 0, False, False, None]


def test_https_settings_read_from_environment(tmp_path):
    """Each HTTPS setting follows its DJANGO_SECURE_* variable."""
    env = {
        **PRODUCTION,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_HSTS_SECONDS": "600",
        "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
        "DJANGO_SECURE_HSTS_PRELOAD": "true",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https",
    }
    expected = [False, 600, False, True, ["HTTP_X_FORWARDED_PROTO", "https"]]
    assert https_settings(env, tmp_path) == expected


@pytest.mark.parametrize("value", [["HTTP_X_FORWARDED_PROTO"], ["a", "b", "c"], [" ", "https"]])
def test_proxy_ssl_header_refuses_malformed_value(value):
    """A proxy header that is not exactly `HEADER,value` stops start-up naming the variable."""
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECURE_PROXY_SSL_HEADER"):
        proxy_ssl_header(value)


def security_warnings(output: str) -> set[str]:
    return set(re.findall(r"\bsecurity\.W\d+\b", output))


def test_check_deploy_passes_in_production(tmp_path):
    """`check --deploy` with production values and the preload opt-in has no security warning."""
    env = {**PRODUCTION, "DJANGO_SECURE_HSTS_PRELOAD": "true"}
    result = manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert security_warnings(result.stdout + result.stderr) == set()


def test_check_deploy_production_defaults_only_suggest_preload(tmp_path):
    """With production defaults the one security warning left is the deliberate preload opt-in."""
    result = manage("check", "--deploy", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert security_warnings(result.stdout + result.stderr) == {"security.W021"}


def test_ssl_redirect_trusts_proxy_header(client, settings):
    """Behind a TLS proxy, plain requests are redirected and proxied HTTPS ones get HSTS."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"
    proxied = client.get("/accounts/login/", headers={"x-forwarded-proto": "https"})
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
