"""Named Microsoft 365 sign-in and token errors: each carries its cause (an M365Cause)."""

from __future__ import annotations

from typing import ClassVar

from events.errors import UserFacingError
from oauth365.causes import M365Cause


class M365AuthError(UserFacingError):
    """A Microsoft 365 sign-in or token request failed; `message` says why and the fix.

    Each class stands for one cause. `error` and `code` are the OAuth error and the AADSTS
    code when the identity provider named them; `description` is its free text, kept for logs
    and never shown (it carries trace and correlation ids).
    """

    causes: ClassVar[tuple[M365Cause, ...]] = (M365Cause.UNEXPECTED,)

    cause: M365Cause

    def __init__(
        self,
        *,
        error: str = "",
        code: str = "",
        description: str = "",
        transient: bool | None = None,
        **context: str,
    ) -> None:
        self.error = error
        self.code = code  # the AADSTS code, when the identity provider named one
        self.description = description
        cause = self.causes[0]
        # Callers pass what any cause might name (msal_error passes the redirect URI to all).
        named = {key: value for key, value in context.items() if key in cause.placeholders}
        super().__init__(cause, params={"code": code or error} | named, transient=transient)


class ConsentDeclinedError(M365AuthError):
    """The user cancelled the sign-in or refused the permission."""

    causes = (M365Cause.CONSENT_DECLINED,)


class AdminConsentRequiredError(M365AuthError):
    """The organisation lets only administrators consent."""

    causes = (M365Cause.ADMIN_CONSENT_REQUIRED,)


class RedirectUriMismatchError(M365AuthError):
    """The app registration does not list this site's redirect URI."""

    causes = (M365Cause.REDIRECT_URI_MISMATCH,)


class WrongTenantError(M365AuthError):
    """The account belongs to an organisation the app does not serve."""

    causes = (M365Cause.WRONG_TENANT,)


class UnauthorizedClientError(M365AuthError):
    """The identity provider does not know or allow the app."""

    causes = (M365Cause.UNAUTHORIZED_CLIENT,)


class InvalidClientSecretError(M365AuthError):
    """The app's client secret is wrong or expired."""

    causes = (M365Cause.INVALID_CLIENT_SECRET,)


class InvalidScopeError(M365AuthError):
    """The app registration lacks the permission SMTP.Send."""

    causes = (M365Cause.INVALID_SCOPE,)


class ReauthenticationRequiredError(M365AuthError):
    """The consent expired or was revoked: the user signs in again."""

    causes = (M365Cause.REAUTH_NEEDED,)


class IdentityProviderUnavailableError(M365AuthError):
    """The identity provider could not be reached or was busy."""

    transient_default = True
    causes = (M365Cause.UNAVAILABLE,)


class IdentityProviderCertificateError(M365AuthError):
    """The identity provider's certificate is not trusted."""

    causes = (M365Cause.CERTIFICATE_UNTRUSTED,)


class AuthorityDiscoveryError(M365AuthError):
    """OAUTH365_AUTHORITY cannot be used."""

    causes = (M365Cause.AUTHORITY_UNKNOWN,)


class FlowRefusedError(M365AuthError):
    """The callback matches no sign-in started in this session."""

    causes = (M365Cause.FLOW_REFUSED,)


class MailboxAlreadyLinkedError(M365AuthError):
    """The mailbox is already linked to another card."""

    causes = (M365Cause.MAILBOX_LINKED,)


class NotAuthenticatedError(M365AuthError):
    """The card has no Microsoft 365 token."""

    causes = (M365Cause.NOT_AUTHENTICATED,)


# AADSTS codes are more specific than OAuth error codes, so they are looked up first.
AADSTS_ERRORS: dict[str, type[M365AuthError]] = {
    "AADSTS65004": ConsentDeclinedError,  # the user declined consent
    "AADSTS90094": AdminConsentRequiredError,
    "AADSTS90008": AdminConsentRequiredError,
    "AADSTS50011": RedirectUriMismatchError,
    "AADSTS50020": WrongTenantError,  # account not in the tenant
    "AADSTS90072": WrongTenantError,  # external account not in the tenant
    "AADSTS500200": WrongTenantError,  # personal Microsoft account
    "AADSTS700016": UnauthorizedClientError,  # app not found in the directory
    "AADSTS7000215": InvalidClientSecretError,  # invalid secret
    "AADSTS7000222": InvalidClientSecretError,  # expired secret
    "AADSTS70011": InvalidScopeError,
    "AADSTS700082": ReauthenticationRequiredError,  # refresh token expired by inactivity
    "AADSTS50173": ReauthenticationRequiredError,  # grant revoked (password change)
    "AADSTS65001": ReauthenticationRequiredError,  # consent missing or revoked
    "AADSTS50076": ReauthenticationRequiredError,  # MFA now required
    "AADSTS50079": ReauthenticationRequiredError,
    "AADSTS70043": ReauthenticationRequiredError,  # sign-in frequency policy
    "AADSTS70008": ReauthenticationRequiredError,  # code or refresh token expired
    "AADSTS54005": ReauthenticationRequiredError,  # code already redeemed
}

OAUTH_ERRORS: dict[str, type[M365AuthError]] = {
    "access_denied": ConsentDeclinedError,
    "consent_required": AdminConsentRequiredError,
    "invalid_grant": ReauthenticationRequiredError,
    "interaction_required": ReauthenticationRequiredError,
    "login_required": ReauthenticationRequiredError,
    "unauthorized_client": UnauthorizedClientError,
    "invalid_client": InvalidClientSecretError,
    "invalid_scope": InvalidScopeError,
    "temporarily_unavailable": IdentityProviderUnavailableError,
    "server_error": IdentityProviderUnavailableError,
}
