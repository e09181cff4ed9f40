"""Build the MSAL app from OAUTH365_* and turn MSAL's error dicts into named exceptions."""

from __future__ import annotations

import hashlib
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import msal
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from oauth365.exceptions import (
    AADSTS_ERRORS,
    OAUTH_ERRORS,
    AuthorityDiscoveryError,
    IdentityProviderCertificateError,
    IdentityProviderUnavailableError,
    M365AuthError,
)

#: The one permission the app asks for; MSAL adds offline_access, openid and profile itself.
SCOPES = ["https://outlook.office.com/SMTP.Send"]

# Hosts of Microsoft's own clouds (public, US government, China, sovereign): MSAL validates
# these itself. Any other host (a test identity provider, ADFS) skips instance discovery,
# which would otherwise ask login.microsoftonline.com about it.
MICROSOFT_AUTHORITY_HOSTS = frozenset(msal.authority.WELL_KNOWN_AUTHORITY_HOSTS)

HTTP_TIMEOUT = (10, 30)  # seconds: connect, read
DISCOVERY_CACHE_SECONDS = 3600

_AADSTS = re.compile(r"\bAADSTS(\d+)\b")


def oauth365_setting(name: str) -> str:
    """Return the setting `name`, or raise ImproperlyConfigured naming the variable to set."""
    value = str(getattr(settings, name, "") or "").strip()
    if not value:
        raise ImproperlyConfigured(
            gettext(
                "{name} is not set. Set it in the environment (see .env.example): Microsoft 365 "
                "sign-in needs OAUTH365_CLIENT_ID, OAUTH365_CLIENT_SECRET and "
                "OAUTH365_REDIRECT_URI from the Entra app registration."
            ).format(name=name)
        )
    return value


def is_microsoft_authority(authority: str) -> bool:
    """Return whether the authority's host is one of Microsoft's sign-in hosts."""
    return (urlsplit(authority).hostname or "").lower() in MICROSOFT_AUTHORITY_HOSTS


# --- Trust: the system's CAs plus MAILER_CA_BUNDLE --------------------------------------------
_bundle_lock = threading.Lock()
_bundle_paths: dict[tuple[str, int, int], str] = {}
_bundle_dir: Path | None = None


def _system_ca_file() -> str:
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and Path(cafile).is_file() else certifi.where()


def ca_bundle_path() -> str | bool:
    """Return the CA file to verify the identity provider with (never verification off).

    Without MAILER_CA_BUNDLE this is True (requests' default trust). With it, a combined file
    of the system CAs and the extra CAs, written once per content into a private directory.
    """
    global _bundle_dir
    extra = settings.MAILER_CA_BUNDLE.strip()
    if not extra:
        return True
    try:
        stat = Path(extra).stat()
    except OSError as exc:
        raise ImproperlyConfigured(
            gettext(
                "MAILER_CA_BUNDLE names {path}, which cannot be read: {reason}. Point it at a PEM "
                "file of the extra CA certificates to trust."
            ).format(path=extra, reason=exc.strerror)
        ) from exc
    key = (extra, stat.st_mtime_ns, stat.st_size)
    with _bundle_lock:
        if key in _bundle_paths:
            return _bundle_paths[key]
        pem = Path(_system_ca_file()).read_bytes() + b"\n" + Path(extra).read_bytes()
        if _bundle_dir is None:
            _bundle_dir = Path(tempfile.mkdtemp(prefix="oauth365-ca-"))  # mode 0700
        path = _bundle_dir / f"{hashlib.sha256(pem).hexdigest()[:16]}.pem"
        path.write_bytes(pem)
        _bundle_paths[key] = str(path)
        return str(path)


_discovery_lock = threading.Lock()
_discovery_cache: dict[str, tuple[float, requests.Response]] = {}


class IdentityProviderSession(requests.Session):
    """A session that always verifies with our bundle and caches OpenID discovery documents.

    Passing verify per request keeps REQUESTS_CA_BUNDLE from replacing our bundle; the cache
    spares one discovery round trip per token request (MSAL builds one app per card).
    """

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", HTTP_TIMEOUT)
        discovery = method == "GET" and str(url).endswith("/.well-known/openid-configuration")
        if discovery:
            with _discovery_lock:
                cached = _discovery_cache.get(str(url))
            if cached and cached[0] > time.monotonic():
                return cached[1]
        response = super().request(method, url, *args, **kwargs)
        if discovery and response.status_code == 200:
            with _discovery_lock:
                _discovery_cache[str(url)] = (
                    time.monotonic() + DISCOVERY_CACHE_SECONDS,
                    response,
                )
        return response


def discovery_cache_clear() -> None:
    """Forget cached OpenID discovery documents (tests; an authority change)."""
    with _discovery_lock:
        _discovery_cache.clear()


def http_session() -> IdentityProviderSession:
    """Return a session for talking to the identity provider."""
    session = IdentityProviderSession()
    session.verify = ca_bundle_path()
    adapter = requests.adapters.HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    return session


# --- The MSAL app ------------------------------------------------------------------------------
@sensitive_variables()
def msal_app_build(
    *, token_cache: msal.SerializableTokenCache | None = None
) -> msal.ConfidentialClientApplication:
    """Build the confidential client from the OAUTH365_* settings as they are now."""
    client_id = oauth365_setting("OAUTH365_CLIENT_ID")
    secret = oauth365_setting("OAUTH365_CLIENT_SECRET")
    authority = oauth365_setting("OAUTH365_AUTHORITY")
    microsoft = is_microsoft_authority(authority)
    try:
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=authority,
            token_cache=token_cache,
            http_client=http_session(),
            instance_discovery=None if microsoft else False,
            validate_authority=microsoft,
        )
    except requests.RequestException as exc:
        raise _network_error(exc) from exc
    except ValueError as exc:
        # MSAL reports an unknown authority or tenant (discovery 4xx) as ValueError.
        raise AuthorityDiscoveryError(authority=authority, description=str(exc)) from exc


@sensitive_variables()
def msal_call[T](function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call MSAL, turning network failures into named errors."""
    try:
        return function(*args, **kwargs)
    except requests.RequestException as exc:
        raise _network_error(exc) from exc


def _network_error(exc: requests.RequestException) -> M365AuthError:
    host = urlsplit(str(getattr(exc.request, "url", "") or "")).hostname or ""
    if isinstance(exc, requests.exceptions.SSLError):
        return IdentityProviderCertificateError(description=type(exc).__name__, host=host)
    return IdentityProviderUnavailableError(description=type(exc).__name__, host=host)


def msal_error(result: Mapping[str, Any]) -> M365AuthError:
    """Return the named exception for an MSAL `{"error": ...}` result."""
    error = str(result.get("error") or "")
    description = str(result.get("error_description") or "")
    codes = [f"AADSTS{number}" for number in result.get("error_codes") or []]
    codes += [f"AADSTS{number}" for number in _AADSTS.findall(description)]
    for code in codes:
        if code in AADSTS_ERRORS:
            cls = AADSTS_ERRORS[code]
            break
    else:
        cls = OAUTH_ERRORS.get(error, M365AuthError)
    return cls(
        error=error,
        code=codes[0] if codes else "",
        description=description.splitlines()[0] if description else "",
        redirect_uri=str(getattr(settings, "OAUTH365_REDIRECT_URI", "") or ""),
    )


def msal_result_check(result: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a successful MSAL result, or raise its named exception."""
    if "error" in result:
        raise msal_error(result)
    return result
