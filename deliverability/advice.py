"""What the DNS diagnostics tell a user: each finding as a sentence with named placeholders.

A recommendation or warning is one sentence or several complete ones joined by a space (as
`mailer.causes` appends "The server said"), never a sentence assembled from fragments, so
translators can reorder each. `ErrorCause` gives these the event causes' template machinery;
they are not registered, as no event stores them: a diagnosis renders them when it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext_noop

from events.errors import ErrorCause, Param


class Advice(ErrorCause):
    """A sentence of a diagnosis: its code and its template.

    Parameters: `domain`, and what a template names (`reason`, `spf_suggestion`, `spf_terms`,
    `provider`, `mail_server`, `ssl_tls`).
    """

    # Recommendations
    DNS_UNCHECKED = (
        "dns_unchecked",
        gettext_noop(
            "The DNS of {domain} could not be checked just now (a lookup timed out or failed); the "
            "card is saved as usual and the check is repeated later. Until then, Directo-Reply-To "
            "is the mode that does not depend on your domain's SPF."
        ),
    )
    OWN_SERVER = (
        "own_server",
        gettext_noop(
            "Mail goes through your own mail server, so your provider's SPF and DKIM apply; the "
            "platform's servers are not involved."
        ),
    )
    OWN_SERVER_PRESET = (
        "own_server_preset",
        gettext_noop(
            "{domain} receives mail at {provider}: its preset is {mail_server} with {ssl_tls}."
        ),
    )
    REPLY_TO = (
        "reply_to",
        gettext_noop(
            "Directo-Reply-To sends from the event mailbox address on the platform's own domain, "
            "so the SPF and DMARC of {domain} do not affect delivery; replies reach you through "
            "Reply-To."
        ),
    )
    REPLY_TO_DIRECTO_PASSES = (
        "reply_to_directo_passes",
        gettext_noop(
            "{domain} also allows the platform's servers, so the Directo mode would pass SPF too "
            "and send from your own address."
        ),
    )
    DIRECTO_PASSES = (
        "directo_passes",
        gettext_noop(
            "The Directo mode will pass SPF: the SPF record of {domain} allows the platform's "
            "outbound servers."
        ),
    )
    # Why the Directo mode fails SPF (one of these), then what to do (one of the two fixes).
    DIRECTO_FAILS_NO_SPF = (
        "directo_fails_no_spf",
        gettext_noop("The Directo mode will not pass SPF: {domain} publishes no SPF record."),
    )
    DIRECTO_FAILS_SPF_BROKEN = (
        "directo_fails_spf_broken",
        gettext_noop(
            "The Directo mode will not pass SPF: the SPF record of {domain} is broken: {reason}."
        ),
    )
    DIRECTO_FAILS_SPF_REJECTS = (
        "directo_fails_spf_rejects",
        gettext_noop(
            "The Directo mode will not pass SPF: the SPF record of {domain} rejects (-all) the "
            "platform's outbound servers."
        ),
    )
    DIRECTO_FAILS_SPF_SUSPICIOUS = (
        "directo_fails_spf_suspicious",
        gettext_noop(
            "The Directo mode will not pass SPF: the SPF record of {domain} marks as suspicious "
            "(~all) the platform's outbound servers."
        ),
    )
    DIRECTO_FAILS_SPF_NEUTRAL = (
        "directo_fails_spf_neutral",
        gettext_noop(
            "The Directo mode will not pass SPF: the SPF record of {domain} does not vouch for the "
            "platform's outbound servers."
        ),
    )
    FIX_SPF_PUBLISH = (
        "fix_spf_publish",
        gettext_noop(
            "Choose Directo-Reply-To (it sends from the platform's event mailbox and puts your "
            "address in Reply-To), or ask the administrator of {domain} to publish this SPF "
            "record: {spf_suggestion}."
        ),
    )
    FIX_SPF_LOOKUPS = (
        "fix_spf_lookups",
        gettext_noop(
            "Choose Directo-Reply-To (it sends from the platform's event mailbox and puts your "
            "address in Reply-To), or ask the administrator of {domain} to reduce the record to at "
            "most 10 DNS lookups (replace includes by ip4: terms) and add {spf_terms}."
        ),
    )
    # Warnings
    DMARC_UNREAD = (
        "dmarc_unread",
        gettext_noop("The DMARC policy of {domain} could not be read just now (DNS failed)."),
    )
    MX_UNREAD = (
        "mx_unread",
        gettext_noop("The mail servers (MX) of {domain} could not be read just now."),
    )
    DMARC_NONE = (
        "dmarc_none",
        gettext_noop(
            "{domain} has a DMARC record (p=none): mail sent in the Directo mode fails DMARC "
            "alignment and is more likely to land in spam."
        ),
    )
    DMARC_QUARANTINE = (
        "dmarc_quarantine",
        gettext_noop(
            "{domain} has DMARC p=quarantine: mail sent in the Directo mode fails DMARC alignment "
            "(SPF does not pass for the platform's servers) and will be put in spam (quarantined) "
            "by the receiving servers. Use Directo-Reply-To, or fix SPF as recommended."
        ),
    )
    DMARC_REJECT = (
        "dmarc_reject",
        gettext_noop(
            "{domain} has DMARC p=reject: mail sent in the Directo mode fails DMARC alignment (SPF "
            "does not pass for the platform's servers) and will be rejected by the receiving "
            "servers. Use Directo-Reply-To, or fix SPF as recommended."
        ),
    )


def advice_render(*sentences: tuple[Advice, Mapping[str, Param]]) -> str:
    """Return the sentences, each rendered from its parameters, joined by a space."""
    return " ".join(advice.render(params) for advice, params in sentences)
