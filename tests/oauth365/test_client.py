"""Building the MSAL app from settings, trust, and MSAL error dicts as named exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from oauth365 import client
from oauth365.exceptions import (
    ConsentDeclinedError,
    IdentityProviderCertificateError,
    IdentityProviderUnavailableError,
    InvalidClientSecretError,
    M365AuthError,
    ReauthenticationRequiredError,
    RedirectUriMismatchError,
    UnauthorizedClientError,
    WrongTenantError,
)


@pytest.mark.parametrize(
    "name", ["OAUTH365_CLIENT_ID", "OAUTH365_CLIENT_SECRET", "OAUTH365_AUTHORITY"]
)
def test_msal_app_build_names_missing_setting(idp, settings, name):
    """A missing OAUTH365_* variable raises ImproperlyConfigured naming it."""
    setattr(settings, name, "")

    with pytest.raises(ImproperlyConfigured, match=name):
        client.msal_app_build()


def test_msal_app_build_local_authority_skips_instance_discovery(idp):
    """A non-Microsoft authority is used as-is: no instance discovery at Microsoft."""
    app = client.msal_app_build()

    assert app._instance_discovery is False
    assert app.authority.token_endpoint == f"{idp.authority}/oauth2/v2.0/token"


@pytest.mark.parametrize(
    ("authority", "microsoft"),
    [
        ("https://login.microsoftonline.com/organizations", True),
        ("https://login.microsoftonline.us/contoso.onmicrosoft.com", True),
        ("https://localhost:8443/organizations", False),
        ("https://login.microsoftonline.com.attacker.example/x", False),
    ],
)
def test_is_microsoft_authority_by_host(authority, microsoft):
    """Only Microsoft's own sign-in hosts count as Microsoft authorities."""
    assert client.is_microsoft_authority(authority) is microsoft


def test_ca_bundle_keeps_system_trust_and_adds_extra(idp, settings):
    """The bundle holds the system CAs and the MAILER_CA_BUNDLE ones."""
    bundle = Path(client.ca_bundle_path()).read_text()

    assert Path(settings.MAILER_CA_BUNDLE).read_text().strip() in bundle
    assert Path(client._system_ca_file()).read_text().strip()[:500] in bundle


def test_ca_bundle_unreadable_names_variable(settings, tmp_path):
    """An unreadable MAILER_CA_BUNDLE raises ImproperlyConfigured naming it."""
    settings.MAILER_CA_BUNDLE = str(tmp_path / "missing.pem")

    with pytest.raises(ImproperlyConfigured, match="MAILER_CA_BUNDLE"):
        client.ca_bundle_path()


def test_untrusted_identity_provider_is_refused(idp, settings):
    """Without the test CA in MAILER_CA_BUNDLE the provider's certificate is not trusted."""
    settings.MAILER_CA_BUNDLE = ""

    with pytest.raises(IdentityProviderCertificateError) as caught:
        client.msal_app_build()

    assert caught.value.transient is False
    assert "MAILER_CA_BUNDLE" in caught.value.user_message
    assert "localhost" in caught.value.user_message


@pytest.mark.parametrize(
    ("result", "expected", "fix"),
    [
        (
            {"error": "access_denied", "error_description": "AADSTS65004: declined"},
            ConsentDeclinedError,
            "Grant admin consent",
        ),
        (
            {"error": "invalid_request", "error_description": "AADSTS50011: redirect URI"},
            RedirectUriMismatchError,
            "OAUTH365_REDIRECT_URI",
        ),
        (
            {"error": "invalid_request", "error_description": "AADSTS50020: not in tenant"},
            WrongTenantError,
            "OAUTH365_AUTHORITY",
        ),
        (
            {"error": "invalid_request", "error_codes": [90072]},
            WrongTenantError,
            "OAUTH365_AUTHORITY",
        ),
        (
            {"error": "unauthorized_client", "error_description": "AADSTS700016: not found"},
            UnauthorizedClientError,
            "OAUTH365_CLIENT_ID",
        ),
        ({"error": "unauthorized_client"}, UnauthorizedClientError, "OAUTH365_CLIENT_ID"),
        (
            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret"},
            InvalidClientSecretError,
            "OAUTH365_CLIENT_SECRET",
        ),
        (
            {"error": "invalid_grant", "error_description": "AADSTS700082: expired"},
            ReauthenticationRequiredError,
            "Authenticate Microsoft 365",
        ),
        (
            {"error": "invalid_grant", "error_description": "AADSTS50173: revoked"},
            ReauthenticationRequiredError,
            "Authenticate Microsoft 365",
        ),
        (
            {"error": "invalid_grant", "error_description": "AADSTS65001: no consent"},
            ReauthenticationRequiredError,
            "Authenticate Microsoft 365",
        ),
        ({"error": "temporarily_unavailable"}, IdentityProviderUnavailableError, "Try again"),
        (
            {"error": "something_new", "error_description": "AADSTS99999: ?"},
            M365AuthError,
            "AADSTS99999",
        ),
    ],
)
def test_msal_error_names_cause_and_fix(settings, result, expected, fix):
    """Every MSAL error dict becomes its named exception with a message naming the fix."""
    settings.OAUTH365_REDIRECT_URI = "https://mail.example.test/oauth365/callback/"

    error = client.msal_error(result)

    assert type(error) is expected
    assert fix in error.user_message
    assert error.transient is (expected is IdentityProviderUnavailableError)


def test_msal_error_description_is_not_in_user_message():
    """The provider's free text (trace ids, correlation ids) stays out of the user's message."""
    error = client.msal_error(
        {"error": "invalid_grant", "error_description": "AADSTS700082: x\r\nTrace ID: abc-123"}
    )

    assert "abc-123" not in error.user_message
    assert error.code == "AADSTS700082"
