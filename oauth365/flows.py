"""The authorization-code flow: start it for a card, complete it once for the same user."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msal
from django.views.decorators.debug import sensitive_variables

from oauth365.client import (
    SCOPES,
    msal_app_build,
    msal_call,
    msal_result_check,
    oauth365_setting,
)
from oauth365.exceptions import FlowRefusedError

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.sessions.backends.base import SessionBase

    from users.models import UserCard

#: Where the pending flow (state, PKCE verifier, nonce) waits in the server-side session.
FLOW_SESSION_KEY = "oauth365.pending_flow"
#: A flow older than this is refused (the issue: "expires after 10 minutes").
FLOW_MAX_AGE_SECONDS = 10 * 60


@dataclass(frozen=True)
class PendingFlow:
    """A started flow, taken out of the session: whose it is and where to go afterwards."""

    flow: dict[str, Any] = field(repr=False)
    user_id: int
    card_id: int
    started_at: float
    next_url: str
    popup: bool
    #: Started from an unsaved choice of Microsoft 365 OAUTH: save the card in that mode on success.
    switch_mode: bool = False


@dataclass(frozen=True)
class CompletedFlow:
    """The identity provider's answer: the filled token cache and the ID token's claims."""

    pending: PendingFlow
    token_cache: msal.SerializableTokenCache = field(repr=False)
    claims: dict[str, Any] = field(repr=False)


def m365_flow_start(
    *, session: SessionBase, card: UserCard, next_url: str, popup: bool, switch_mode: bool = False
) -> str:
    """Start a flow for the card's own user, keep it in the session, return the sign-in URL.

    `switch_mode`: the card is not saved as Microsoft 365 OAUTH yet (the user only chose it on
    the page), so a successful sign-in also saves the card in that mode.
    """
    app = msal_app_build()
    flow = msal_call(
        app.initiate_auth_code_flow,
        SCOPES,
        # Never built from the Host header: the registered URI is the only one Microsoft accepts,
        # and a forged Host must not be able to redirect the code elsewhere.
        redirect_uri=oauth365_setting("OAUTH365_REDIRECT_URI"),
        login_hint=card.smtp_username or card.email or None,
        # The code travels in a POST body, not in a URL that history and logs keep (RFC 9700
        # 4.3.1); the callback also accepts the query form.
        response_mode="form_post",
    )
    session[FLOW_SESSION_KEY] = {
        "flow": flow,
        "user_id": card.user_id,
        "card_id": card.pk,
        "started_at": time.time(),
        "next": next_url,
        "popup": popup,
        "switch_mode": switch_mode,
    }
    return str(flow["auth_uri"])


def m365_flow_pop(
    *, session: SessionBase, user: AbstractBaseUser | AnonymousUser, state: str | None
) -> PendingFlow:
    """Take the pending flow out of the session (once) and refuse it unless it is this one.

    The flow is taken out only after the state and the user match: a forged callback (a
    cross-site GET with another state) must not cancel the sign-in that is in progress.
    """
    stored = session.get(FLOW_SESSION_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("flow"), dict):
        session.pop(FLOW_SESSION_KEY, None)
        raise FlowRefusedError(description="no pending flow in this session")
    pending = PendingFlow(
        flow=stored["flow"],
        user_id=int(stored.get("user_id") or 0),
        card_id=int(stored.get("card_id") or 0),
        started_at=float(stored.get("started_at") or 0),
        next_url=str(stored.get("next") or ""),
        popup=bool(stored.get("popup")),
        switch_mode=bool(stored.get("switch_mode")),
    )
    expected = str(pending.flow.get("state") or "")
    if not expected or not hmac.compare_digest(expected.encode(), (state or "").encode()):
        raise FlowRefusedError(description="state mismatch")
    if not user.is_authenticated or pending.user_id != user.pk:
        raise FlowRefusedError(description="flow started by another user")
    session.pop(FLOW_SESSION_KEY, None)
    if time.time() - pending.started_at > FLOW_MAX_AGE_SECONDS:
        raise FlowRefusedError(description="flow expired")
    return pending


@sensitive_variables("auth_response", "cache", "result")
def m365_flow_redeem(*, pending: PendingFlow, auth_response: Mapping[str, str]) -> CompletedFlow:
    """Exchange the code (PKCE, nonce checked by MSAL) for tokens in a fresh cache."""
    cache = msal.SerializableTokenCache()
    app = msal_app_build(token_cache=cache)
    try:
        result = msal_call(
            app.acquire_token_by_auth_code_flow, dict(pending.flow), dict(auth_response)
        )
    except (ValueError, RuntimeError) as exc:
        # MSAL raises these for a state or nonce mismatch: an answer to some other request.
        raise FlowRefusedError(description=type(exc).__name__) from exc
    msal_result_check(result)
    return CompletedFlow(
        pending=pending, token_cache=cache, claims=dict(result.get("id_token_claims") or {})
    )
