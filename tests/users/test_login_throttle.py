"""Sign-in throttling of the login page, the admin login and password resets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.http import HttpRequest
from django.test import RequestFactory

from directo_mail.throttle import client_ip
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN, ADMIN_LOGIN, RESET = "/accounts/login/", "/admin/login/", "/accounts/password_reset/"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def limits(settings):
    """Return (attempts, minutes) as configured (AUTH_LOCKOUT_ATTEMPTS, AUTH_LOCKOUT_MINUTES)."""
    return settings.AUTH_LOCKOUT_ATTEMPTS, settings.AUTH_LOCKOUT_MINUTES


def sign_in(client, username, password, *, ip="198.51.100.1", url=LOGIN):
    """Post the login form from the given client IP and return the response."""
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def window_pass(minutes: int) -> None:
    """Age every recorded failure past the lockout window, as if that time had gone by."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes + 1))


def test_login_throttle_locks_account_from_any_ip(client, limits):
    """N failed logins for one account lock it, even when each came from another IP."""
    attempts, _ = limits
    UserFactory(username="KIVI")
    for n in range(attempts - 1):
        assert sign_in(client, "KIVI", "wrong", ip=f"198.51.100.{n + 1}").status_code == 200
    assert sign_in(client, "KIVI", "wrong", ip="198.51.100.99").status_code == 429
    # The right password from a fresh IP is refused too.
    response = sign_in(client, "KIVI", PASSWORD, ip="203.0.113.7")
    assert response.status_code == 429 and not signed_in(client)


def test_login_throttle_locks_ip_across_accounts(client, limits):
    """N failed logins from one IP, each for another account, lock that IP for everyone."""
    attempts, _ = limits
    UserFactory(username="MARI")
    for n in range(attempts):
        sign_in(client, f"GUESS{n}", "wrong", ip="192.0.2.10")
    response = sign_in(client, "MARI", PASSWORD, ip="192.0.2.10")
    assert response.status_code == 429 and not signed_in(client)
    # Another IP is not affected.
    assert sign_in(client, "MARI", PASSWORD, ip="192.0.2.11").status_code == 302


def test_login_throttle_refuses_right_password_until_window_passes(client, limits):
    """After a lockout the right password is refused; once the window has passed it works."""
    attempts, minutes = limits
    UserFactory(username="KIVI")
    for _ in range(attempts):
        sign_in(client, "KIVI", "wrong")
    assert sign_in(client, "KIVI", PASSWORD).status_code == 429
    window_pass(minutes)
    response = sign_in(client, "KIVI", PASSWORD)
    assert response.status_code == 302 and signed_in(client)


def test_login_throttle_page_says_how_long_to_wait(client, limits):
    """The lockout page names the wait in minutes, and Retry-After gives it in seconds."""
    attempts, minutes = limits
    UserFactory(username="KIVI")
    for _ in range(attempts):
        response = sign_in(client, "KIVI", "wrong")
    assert response.status_code == 429
    assert f"blocked for {minutes} minutes" in response.content.decode()
    assert response["Retry-After"] == str(minutes * 60)


def test_login_throttle_success_resets_count(client, limits):
    """A successful login clears the account's failures: the next ones count from zero."""
    attempts, _ = limits
    UserFactory(username="KIVI")
    for _ in range(attempts - 1):
        sign_in(client, "KIVI", "wrong")
    assert sign_in(client, "KIVI", PASSWORD).status_code == 302
    client.logout()
    for _ in range(attempts - 1):
        assert sign_in(client, "KIVI", "wrong").status_code == 200
    assert sign_in(client, "KIVI", PASSWORD).status_code == 302


def test_admin_login_throttle_locks_account(client, limits):
    """The admin login counts failures and locks out like the login page."""
    attempts, _ = limits
    UserFactory(username="ADMIN", is_staff=True, is_superuser=True)
    for n in range(attempts):
        response = sign_in(client, "ADMIN", "wrong", ip=f"198.51.100.{n + 1}", url=ADMIN_LOGIN)
    assert response.status_code == 429
    response = sign_in(client, "ADMIN", PASSWORD, ip="203.0.113.7", url=ADMIN_LOGIN)
    assert response.status_code == 429 and not signed_in(client)


def test_admin_login_throttle_shares_count_with_login_page(client, limits):
    """Failures on the login page and on the admin login add up for the same account."""
    attempts, _ = limits
    UserFactory(username="ADMIN", is_staff=True, is_superuser=True)
    for n in range(attempts):
        sign_in(client, "ADMIN", "wrong", ip=f"198.51.100.{n + 1}", url=(LOGIN, ADMIN_LOGIN)[n % 2])
    assert sign_in(client, "ADMIN", PASSWORD, url=ADMIN_LOGIN).status_code == 429


def reset_request(client, email, *, ip="198.51.100.1"):
    return client.post(RESET, {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_throttle_limits_requests_per_address(client, limits):
    """N reset requests for one address are served; the next is refused, from any IP."""
    attempts, minutes = limits
    for n in range(attempts):
        response = reset_request(client, "kivi@example.test", ip=f"198.51.100.{n + 1}")
        assert response.status_code == 302
    response = reset_request(client, "KIVI@example.test", ip="203.0.113.7")
    assert response.status_code == 429
    assert f"blocked for {minutes} minutes" in response.content.decode()


def test_password_reset_throttle_limits_requests_per_ip(client, limits):
    """N reset requests from one IP are served, whatever the address; the next is refused."""
    attempts, _ = limits
    for n in range(attempts):
        assert reset_request(client, f"user{n}@example.test", ip="192.0.2.10").status_code == 302
    assert reset_request(client, "other@example.test", ip="192.0.2.10").status_code == 429
    assert reset_request(client, "other@example.test", ip="192.0.2.11").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "10.0.0.2"),  # no proxy trusted: a client's header is ignored
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the spoofed left entry is not used
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.9", "203.0.113.5"),
        (2, "10.0.0.9", "10.0.0.2"),  # fewer entries than proxies: the peer address
    ],
)
def test_client_ip_reads_trusted_proxy_entry(settings, proxies, forwarded, expected):
    """The client IP is read that many X-Forwarded-For entries from the right, never further."""
    settings.AUTH_LOCKOUT_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_login_throttle_test_client_login_takes_a_request(client):
    """Under axes the test client's login() needs a request (or use force_login)."""
    UserFactory(username="KIVI")
    assert client.login(request=HttpRequest(), username="KIVI", password=PASSWORD)
    assert signed_in(client)
