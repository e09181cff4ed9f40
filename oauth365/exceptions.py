"""Named Microsoft 365 sign-in and token errors: each knows its message, its fix, if transient."""

from __future__ import annotations

from typing import ClassVar


class M365AuthError(Exception):
    """A Microsoft 365 sign-in or token request failed; `user_message` says why and the fix."""

    cause: ClassVar[str] = "m365_error"
    transient_default: ClassVar[bool] = False
    message: ClassVar[str] = (
        "Microsoft 365 answered with an unexpected error{code}. Click Authenticate Microsoft 365 "
        "to try again; if it persists, an administrator should look up the code at "
        "https://login.microsoftonline.com/error."
    )

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
        self.transient = self.transient_default if transient is None else transient
        self.context = context
        self.user_message = self._user_message()
        super().__init__(self.user_message)

    def _user_message(self) -> str:
        label = self.code or self.error
        values = {"code": f" ({label})" if label else "", **self.context}
        return self.message.format_map(_Blank(values))


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class ConsentDeclinedError(M365AuthError):
    cause = "m365_consent_declined"
    message = (
        "The sign-in was cancelled or the permission to send mail was refused{code}. Click "
        "Authenticate Microsoft 365 again and accept. If your organisation lets only "
        "administrators consent, a Microsoft 365 administrator must grant it: Entra admin center "
        "→ Enterprise applications → this app → Permissions → Grant admin consent."
    )


class AdminConsentRequiredError(M365AuthError):
    cause = "m365_admin_consent_required"
    message = (
        "Your organisation requires an administrator to approve this app{code}. A Microsoft 365 "
        "administrator must grant consent: Entra admin center → Enterprise applications → this "
        "app → Permissions → Grant admin consent; then click Authenticate Microsoft 365 again."
    )


class RedirectUriMismatchError(M365AuthError):
    cause = "m365_redirect_uri_mismatch"
    message = (
        "Microsoft 365 does not accept this site's redirect URI{code}. An administrator must add "
        "exactly {redirect_uri} as a Web redirect URI of the app registration (Entra admin "
        "center → App registrations → the app → Authentication), or set OAUTH365_REDIRECT_URI "
        "to the URI registered there."
    )


class WrongTenantError(M365AuthError):
    cause = "m365_wrong_tenant"
    message = (
        "The account you signed in with belongs to an organisation this app does not serve"
        "{code}. Sign in with your work account of the right organisation. An administrator "
        "can allow other organisations by making the app registration multi-tenant and setting "
        "OAUTH365_AUTHORITY to https://login.microsoftonline.com/organizations, or set it to "
        "your own tenant."
    )


class UnauthorizedClientError(M365AuthError):
    cause = "m365_unauthorized_client"
    message = (
        "Microsoft 365 does not know this app or does not allow it here{code}. An administrator "
        "should check that OAUTH365_CLIENT_ID is the Application (client) ID of the app "
        "registration, that the app is registered in (or available to) your tenant, and that "
        "it has the delegated permission SMTP.Send."
    )


class InvalidClientSecretError(M365AuthError):
    cause = "m365_invalid_client_secret"
    message = (
        "Microsoft 365 refused the app's client secret{code}. An administrator must create a new "
        "client secret (Entra admin center → App registrations → the app → Certificates & "
        "secrets) and set OAUTH365_CLIENT_SECRET to its Value (not its Secret ID)."
    )


class InvalidScopeError(M365AuthError):
    cause = "m365_invalid_scope"
    message = (
        "Microsoft 365 refused the permission SMTP.Send{code}. An administrator must add the "
        "delegated permission Office 365 Exchange Online → SMTP.Send to the app registration "
        "(API permissions) and grant consent."
    )


class ReauthenticationRequiredError(M365AuthError):
    cause = "m365_reauth_needed"
    message = (
        "Microsoft 365 needs you to sign in again: the consent expired or was revoked{code}. "
        "Click Authenticate Microsoft 365 on the user card{card} to authenticate again."
    )

    def _user_message(self) -> str:
        card = self.context.get("card", "")
        self.context["card"] = f" {card}" if card else ""
        return super()._user_message()


class IdentityProviderUnavailableError(M365AuthError):
    cause = "m365_unavailable"
    transient_default = True
    message = (
        "Microsoft 365 sign-in could not be reached or was temporarily unavailable{code}. Try "
        "again in a few minutes."
    )


class IdentityProviderCertificateError(M365AuthError):
    cause = "m365_certificate_untrusted"
    message = (
        "The certificate of the Microsoft 365 sign-in server {host} is not trusted{code}. If a "
        "proxy or private authority signs it, an administrator must add that CA certificate "
        "(PEM) to the file named by MAILER_CA_BUNDLE; the system's trusted CAs stay in use."
    )


class AuthorityDiscoveryError(M365AuthError):
    cause = "m365_authority_unknown"
    message = (
        "The Microsoft 365 authority {authority} could not be used{code}. An administrator should "
        "set OAUTH365_AUTHORITY to https://login.microsoftonline.com/organizations, to "
        "https://login.microsoftonline.com/<your tenant id>, or to your national cloud's "
        "sign-in address."
    )


class FlowRefusedError(M365AuthError):
    cause = "m365_flow_refused"
    message = (
        "This sign-in could not be matched to one you started here: it expired after 10 minutes, "
        "was already used, or was started by another user. Nothing was saved. Click "
        "Authenticate Microsoft 365 again."
    )


class MailboxAlreadyLinkedError(M365AuthError):
    cause = "m365_mailbox_linked"
    message = (
        "The Microsoft 365 mailbox {account} is already linked to user card {other_card}. "
        "Nothing was saved. Sign in with your own mailbox, or have it disconnected from card "
        "{other_card} first (an administrator can do that)."
    )


class NotAuthenticatedError(M365AuthError):
    cause = "m365_not_authenticated"
    message = (
        "Microsoft 365 is not authenticated for user card {card}. Click Authenticate Microsoft "
        "365 on the card."
    )


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
