"""Microsoft 365 token services: save a sign-in on the card, hand out fresh access tokens."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msal
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.debug import sensitive_variables

from events.models import EventKind
from events.selectors import event_recorded_since
from events.services import event_record
from oauth365.causes import M365Cause
from oauth365.client import SCOPES, msal_app_build, msal_call, msal_error
from oauth365.exceptions import (
    M365AuthError,
    MailboxAlreadyLinkedError,
    NotAuthenticatedError,
    ReauthenticationRequiredError,
)
from oauth365.flows import CompletedFlow, m365_flow_pop, m365_flow_redeem
from oauth365.models import M365Connection, M365Status
from oauth365.signals import m365_consent_lost
from users.models import MailSender, UserCard

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.base import SessionBase

logger = logging.getLogger(__name__)

#: SPEC.md's glossary: each language's catalog has the exact words.
SUCCESS_MESSAGE = gettext_noop("Microsoft 365 has been authenticated")


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback page tells the user, and where the user goes next."""

    ok: bool
    message: str
    warning: str = ""
    next_url: str = ""
    popup: bool | None = None  # None: the flow was refused before we knew


@sensitive_variables("auth_response")
def m365_callback_handle(
    *,
    session: SessionBase,
    user: AbstractBaseUser | AnonymousUser,
    auth_response: Mapping[str, str],
) -> CallbackOutcome:
    """Complete the user's pending flow with the identity provider's answer and save it."""
    try:
        pending = m365_flow_pop(session=session, user=user, state=auth_response.get("state"))
    except M365AuthError as exc:
        logger.warning("Microsoft 365 callback refused: %s", exc.description)
        return CallbackOutcome(ok=False, message=exc.user_message)
    try:
        card = UserCard.objects.get(pk=pending.card_id, user_id=pending.user_id)
        completed = m365_flow_redeem(pending=pending, auth_response=auth_response)
        connection = m365_connection_save(card=card, completed=completed)
        if pending.switch_mode:
            m365_mode_switch(card=card)
    except UserCard.DoesNotExist:
        return CallbackOutcome(
            ok=False,
            message=gettext("Your user card no longer exists; nothing was saved."),
            next_url=pending.next_url,
            popup=pending.popup,
        )
    except M365AuthError as exc:
        logger.warning(
            "Microsoft 365 sign-in for card %s failed: %s %s", pending.card_id, exc.cause, exc.code
        )
        return CallbackOutcome(
            ok=False, message=exc.user_message, next_url=pending.next_url, popup=pending.popup
        )
    return CallbackOutcome(
        ok=True,
        message=gettext(SUCCESS_MESSAGE),
        warning=m365_account_warning(card=card, connection=connection),
        next_url=pending.next_url,
        popup=pending.popup,
    )


def m365_mode_switch(*, card: UserCard) -> bool:
    """Save the card with Microsoft 365 OAUTH as its mail sender; return whether it changed.

    The sign-in was started from an unsaved choice on the card page: completing it saves the
    card in that mode. That mode uses no password, so a stored one is dropped (the model
    refuses it with a Microsoft 365 server).
    """
    if card.mail_sender == MailSender.M365_OAUTH and not card.smtp_password:
        return False
    card.mail_sender = MailSender.M365_OAUTH
    card.smtp_password = ""
    card.save(update_fields=["mail_sender", "smtp_password", "updated_at"])
    return True


@sensitive_variables()
def m365_connection_save(*, card: UserCard, completed: CompletedFlow) -> M365Connection:
    """Store the token cache and the signed-in identity on the card; refuse a mailbox in use."""
    claims = completed.claims
    tenant_id, object_id = str(claims.get("tid") or ""), str(claims.get("oid") or "")
    account = str(claims.get("preferred_username") or claims.get("email") or "")
    if not (tenant_id and object_id):
        raise M365AuthError(error="id_token_without_tid_oid")
    other = (
        M365Connection.objects.filter(tenant_id=tenant_id, object_id=object_id)
        .exclude(card=card)
        .select_related("card")
        .first()
    )
    if other is not None:
        raise MailboxAlreadyLinkedError(account=account, other_card=other.card.code)
    now = timezone.now()
    try:
        with transaction.atomic():
            connection, _ = M365Connection.objects.update_or_create(
                card=card,
                defaults={
                    "token_cache": completed.token_cache.serialize(),
                    "tenant_id": tenant_id,
                    "object_id": object_id,
                    "account": account,
                    "status": M365Status.CONNECTED,
                    "authenticated_at": now,
                    "token_refreshed_at": now,
                },
            )
    except IntegrityError as exc:  # another card linked the mailbox in the meantime
        raise MailboxAlreadyLinkedError(account=account, other_card="(another card)") from exc
    return connection


def m365_account_warning(*, card: UserCard, connection: M365Connection | None) -> str:
    """Return a warning when the signed-in account is not the card's Username, else ""."""
    if connection is None or not connection.account or not card.smtp_username:
        return ""
    if connection.account.casefold() == card.smtp_username.casefold():
        return ""
    return gettext(
        "You signed in to Microsoft 365 as {account}, but the card's Username is {username}. "
        "Mail is sent as the signed-in account: click “Use this account” to set the Username "
        "to {account}, or authenticate again as {username}."
    ).format(account=connection.account, username=card.smtp_username)


def m365_use_account(*, card: UserCard) -> str:
    """Set the card's Username to the signed-in account and return it."""
    connection = M365Connection.objects.filter(card=card).first()
    if connection is None or not connection.account:
        raise NotAuthenticatedError(card=card.code)
    card.smtp_username = connection.account
    card.save(update_fields=["smtp_username", "updated_at"])
    return connection.account


def m365_disconnect(*, card: UserCard) -> bool:
    """Delete the card's token cache and connection; return whether there was one."""
    deleted, _ = M365Connection.objects.filter(card=card).delete()
    return bool(deleted)


# --- Access tokens -----------------------------------------------------------------------------
def m365_access_token_get(*, card: UserCard) -> str:
    """Return a fresh access token for the card's mailbox (refreshed under a row lock)."""
    return _access_token_acquire(card_id=card.pk, force_refresh=False)


def m365_token_keep_fresh(*, card_id: int) -> None:
    """Redeem the card's refresh token now so that an idle consent does not lapse."""
    _access_token_acquire(card_id=card_id, force_refresh=True)


# Microsoft's refresh tokens for web apps lapse after 90 days without use; each redemption
# issues a new one (https://learn.microsoft.com/entra/identity-platform/refresh-tokens).
REFRESH_TOKEN_IDLE_LIFETIME = timedelta(days=90)
#: An idle cache is redeemed by the beat task once it has rested this long.
KEEP_FRESH_AFTER = timedelta(days=7)
#: Users are warned this long before an unrefreshed consent lapses.
CONSENT_WARNING_BEFORE = timedelta(days=14)
CONSENT_EXPIRING_CAUSE = M365Cause.CONSENT_EXPIRING


def m365_idle_card_ids(*, now: datetime) -> list[int]:
    """Return the cards whose usable token cache has not been refreshed for a while."""
    rested = Q(token_refreshed_at__lt=now - KEEP_FRESH_AFTER) | Q(
        token_refreshed_at__isnull=True, authenticated_at__lt=now - KEEP_FRESH_AFTER
    )
    return list(
        M365Connection.objects.filter(rested, status=M365Status.CONNECTED)
        .exclude(token_cache="")
        .order_by("card_id")
        .values_list("card_id", flat=True)
    )


def m365_consent_lapse_warn(*, now: datetime) -> int:
    """Warn (once per lapse) on cards whose consent lapses soon because refreshes keep failing."""
    deadline = now - (REFRESH_TOKEN_IDLE_LIFETIME - CONSENT_WARNING_BEFORE)
    warned = 0
    connections = M365Connection.objects.filter(status=M365Status.CONNECTED).select_related("card")
    for connection in connections.exclude(token_cache=""):
        last = connection.token_refreshed_at or connection.authenticated_at
        if last is None or last >= deadline:
            continue
        if event_recorded_since(card=connection.card, cause=CONSENT_EXPIRING_CAUSE, since=last):
            continue
        params = {
            "account": connection.account or connection.card.code,
            "lapses": (last + REFRESH_TOKEN_IDLE_LIFETIME).date().isoformat(),
            "since": last.date().isoformat(),
        }
        event_record(
            card=connection.card,
            kind=EventKind.REAUTH_NEEDED,
            cause=CONSENT_EXPIRING_CAUSE,
            params=params,
            message=CONSENT_EXPIRING_CAUSE.render(params),
        )
        warned += 1
    return warned


@sensitive_variables("cache", "result")
def _access_token_acquire(*, card_id: int, force_refresh: bool) -> str:
    failure: M365AuthError | None = None
    with transaction.atomic():
        # The lock makes parallel workers wait for the first refresh and then use its result,
        # so a rotated refresh token is redeemed exactly once.
        connection = (
            M365Connection.objects.select_for_update(of=("self",))
            .select_related("card")
            .filter(card_id=card_id)
            .first()
        )
        if connection is None or not connection.token_cache:
            code = UserCard.objects.filter(pk=card_id).values_list("code", flat=True).first()
            raise NotAuthenticatedError(card=code or "")
        if connection.status == M365Status.REAUTH_NEEDED:
            # Known dead: asking the identity provider again would only loop.
            raise ReauthenticationRequiredError(card=connection.card.code)
        cache = msal.SerializableTokenCache()
        cache.deserialize(connection.token_cache.reveal())
        app = msal_app_build(token_cache=cache)
        result = _silent(app, connection, force_refresh=force_refresh)
        if result is not None and "access_token" in result:
            if cache.has_state_changed:
                connection.token_cache = cache.serialize()
                connection.token_refreshed_at = timezone.now()
                connection.save(update_fields=["token_cache", "token_refreshed_at", "updated_at"])
            return str(result["access_token"])
        failure = msal_error(result or {"error": "invalid_grant"})
        if isinstance(failure, ReauthenticationRequiredError):
            failure = ReauthenticationRequiredError(
                error=failure.error, code=failure.code, card=connection.card.code
            )
            connection.status = M365Status.REAUTH_NEEDED
            connection.save(update_fields=["status", "updated_at"])
            _on_reauth_needed(connection.card, failure)
    # Raised outside the atomic block so that the status change and the event are kept.
    raise failure


def _silent(
    app: msal.ConfidentialClientApplication, connection: M365Connection, *, force_refresh: bool
) -> Mapping[str, Any] | None:
    home_account_id = f"{connection.object_id}.{connection.tenant_id}"
    accounts = app.get_accounts()
    account = next((a for a in accounts if a.get("home_account_id") == home_account_id), None)
    if account is None and len(accounts) == 1:
        account = accounts[0]
    if account is None:
        return None
    # MSAL serves a cached token only while more than five minutes remain (its own rule in
    # ClientApplication._acquire_token_silent_from_cache_and_possibly_refresh_it) and
    # otherwise redeems the refresh token: the freshness the issue asks for.
    return msal_call(
        app.acquire_token_silent_with_error, SCOPES, account, force_refresh=force_refresh
    )


def _on_reauth_needed(card: UserCard, error: ReauthenticationRequiredError) -> None:
    """React once to a card whose consent expired or was revoked: record it and announce it.

    Called inside the transaction that switched the card to "reauth_needed", so it runs once
    per lapse. Mass mailing hears `m365_consent_lost` and pauses the user's running jobs (and
    those sending with this card's token); the user resumes them after authenticating again.
    """
    event_record(
        card=card,
        kind=EventKind.REAUTH_NEEDED,
        cause=error.cause,
        params=error.params,
        message=error.message,
    )
    m365_consent_lost.send(sender=M365Connection, card=card, reason=error.user_message, error=error)
