"""Why a Microsoft 365 sign-in or token request failed: each cause with its message and fix."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext_noop

from events.errors import ErrorCause, Param

#: Parameters that are dates: stored as ISO 8601, shown in the reader's date format.
_DATES = ("lapses", "since")


class M365Cause(ErrorCause):
    """The causes of Microsoft 365 errors and events.

    Parameters: `code` (the AADSTS or OAuth error code, shown in brackets when known) and what
    a template names (`card`, `host`, `authority`, `redirect_uri`, `account`, …).
    """

    # M365AuthError
    UNEXPECTED = (
        "m365_error",
        gettext_noop(
            "Microsoft 365 answered with an unexpected error{code}. Click Authenticate Microsoft "
            "365 to try again; if it persists, an administrator should look up the code at "
            "https://login.microsoftonline.com/error."
        ),
    )
    # ConsentDeclinedError
    CONSENT_DECLINED = (
        "m365_consent_declined",
        gettext_noop(
            "The sign-in was cancelled or the permission to send mail was refused{code}. Click "
            "Authenticate Microsoft 365 again and accept. If your organisation lets only "
            "administrators consent, a Microsoft 365 administrator must grant it: Entra admin "
            "center → Enterprise applications → this app → Permissions → Grant admin consent."
        ),
    )
    # AdminConsentRequiredError
    ADMIN_CONSENT_REQUIRED = (
        "m365_admin_consent_required",
        gettext_noop(
            "Your organisation requires an administrator to approve this app{code}. A Microsoft "
            "365 administrator must grant consent: Entra admin center → Enterprise applications → "
            "this app → Permissions → Grant admin consent; then click Authenticate Microsoft 365 "
            "again."
        ),
    )
    # RedirectUriMismatchError
    REDIRECT_URI_MISMATCH = (
        "m365_redirect_uri_mismatch",
        gettext_noop(
            "Microsoft 365 does not accept this site's redirect URI{code}. An administrator must "
            "add exactly {redirect_uri} as a Web redirect URI of the app registration (Entra admin "
            "center → App registrations → the app → Authentication), or set OAUTH365_REDIRECT_URI "
            "to the URI registered there."
        ),
    )
    # WrongTenantError
    WRONG_TENANT = (
        "m365_wrong_tenant",
        gettext_noop(
            "The account you signed in with belongs to an organisation this app does not serve"
            "{code}. Sign in with your work account of the right organisation. An administrator "
            "can allow other organisations by making the app registration multi-tenant and setting "
            "OAUTH365_AUTHORITY to https://login.microsoftonline.com/organizations, or set it to "
            "your own tenant."
        ),
    )
    # UnauthorizedClientError
    UNAUTHORIZED_CLIENT = (
        "m365_unauthorized_client",
        gettext_noop(
            "Microsoft 365 does not know this app or does not allow it here{code}. An "
            "administrator should check that OAUTH365_CLIENT_ID is the Application (client) ID of "
            "the app registration, that the app is registered in (or available to) your tenant, "
            "and that it has the delegated permission SMTP.Send."
        ),
    )
    # InvalidClientSecretError
    INVALID_CLIENT_SECRET = (
        "m365_invalid_client_secret",
        gettext_noop(
            "Microsoft 365 refused the app's client secret{code}. An administrator must create a "
            "new client secret (Entra admin center → App registrations → the app → Certificates & "
            "secrets) and set OAUTH365_CLIENT_SECRET to its Value (not its Secret ID)."
        ),
    )
    # InvalidScopeError
    INVALID_SCOPE = (
        "m365_invalid_scope",
        gettext_noop(
            "Microsoft 365 refused the permission SMTP.Send{code}. An administrator must add the "
            "delegated permission Office 365 Exchange Online → SMTP.Send to the app registration "
            "(API permissions) and grant consent."
        ),
    )
    # ReauthenticationRequiredError
    REAUTH_NEEDED = (
        "m365_reauth_needed",
        gettext_noop(
            "Microsoft 365 needs you to sign in again: the consent expired or was revoked{code}. "
            "Click Authenticate Microsoft 365 on the user card{card} to authenticate again."
        ),
    )
    # IdentityProviderUnavailableError
    UNAVAILABLE = (
        "m365_unavailable",
        gettext_noop(
            "Microsoft 365 sign-in could not be reached or was temporarily unavailable{code}. Try "
            "again in a few minutes."
        ),
    )
    # IdentityProviderCertificateError
    CERTIFICATE_UNTRUSTED = (
        "m365_certificate_untrusted",
        gettext_noop(
            "The certificate of the Microsoft 365 sign-in server {host} is not trusted{code}. If a "
            "proxy or private authority signs it, an administrator must add that CA certificate "
            "(PEM) to the file named by MAILER_CA_BUNDLE; the system's trusted CAs stay in use."
        ),
    )
    # AuthorityDiscoveryError
    AUTHORITY_UNKNOWN = (
        "m365_authority_unknown",
        gettext_noop(
            "The Microsoft 365 authority {authority} could not be used{code}. An administrator "
            "should set OAUTH365_AUTHORITY to https://login.microsoftonline.com/organizations, to "
            "https://login.microsoftonline.com/<your tenant id>, or to your national cloud's "
            "sign-in address."
        ),
    )
    # FlowRefusedError
    FLOW_REFUSED = (
        "m365_flow_refused",
        gettext_noop(
            "This sign-in could not be matched to one you started here: it expired after 10 "
            "minutes, was already used, or was started by another user. Nothing was saved. Click "
            "Authenticate Microsoft 365 again."
        ),
    )
    # MailboxAlreadyLinkedError
    MAILBOX_LINKED = (
        "m365_mailbox_linked",
        gettext_noop(
            "The Microsoft 365 mailbox {account} is already linked to user card {other_card}. "
            "Nothing was saved. Sign in with your own mailbox, or have it disconnected from card "
            "{other_card} first (an administrator can do that)."
        ),
    )
    # NotAuthenticatedError
    NOT_AUTHENTICATED = (
        "m365_not_authenticated",
        gettext_noop(
            "Microsoft 365 is not authenticated for user card {card}. Click Authenticate Microsoft "
            "365 on the card."
        ),
    )
    # An event only (m365_consent_lapse_warn): refreshes keep failing, the consent lapses soon.
    CONSENT_EXPIRING = (
        "m365_consent_expiring",
        gettext_noop(
            "The Microsoft 365 consent of {account} lapses on {lapses}: its token could not be "
            "refreshed since {since}. Click Authenticate Microsoft 365 on the user card to "
            "authenticate again before then."
        ),
    )

    def context(self, params: Mapping[str, Param]) -> dict[str, Any]:
        context = super().context(params)
        code = params.get("code")
        context["code"] = f" ({code})" if code else ""
        if self is M365Cause.REAUTH_NEEDED:
            card = params.get("card")
            context["card"] = f" {card}" if card else ""
        for name in _DATES:
            value = params.get(name)
            try:
                day = date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                day = None  # not a date (an old or foreign row): shown as stored
            if day is not None:
                context[name] = date_format(day, "DATE_FORMAT")
        return context
