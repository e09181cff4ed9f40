"""A real local HTTPS identity provider that speaks enough Microsoft identity platform for MSAL.

Endpoints under https://localhost:<port>/<tenant>/:
- v2.0/.well-known/openid-configuration (discovery),
- oauth2/v2.0/authorize (auto consent, an interactive "Accept" page, or an error redirect),
- oauth2/v2.0/token (authorization_code with PKCE S256 and client secret; refresh_token with
  rotation; invalid_grant on demand; short-lived access tokens on demand).
`is_valid_access_token(token)` lets an SMTP test server check a presented XOAUTH2 token.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import trustme


@functools.cache
def _certificates() -> tuple[trustme.CA, trustme.LeafCert]:
    # Key generation is the slow part of a provider's start: one CA serves every test.
    ca = trustme.CA()
    return ca, ca.issue_cert("localhost", "127.0.0.1")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class IdpUser:
    preferred_username: str = "kivi@contoso.test"
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    tid: str = field(default_factory=lambda: str(uuid.uuid4()))
    name: str = "Kivi Kasutaja"


@dataclass
class Grant:
    user: IdpUser
    client_id: str
    scope: str
    nonce: str = ""
    redirect_uri: str = ""
    code_challenge: str = ""
    code_challenge_method: str = ""
    used: bool = False


class IdentityProvider:
    """The provider's state; the HTTP server thread reads and changes it under a lock."""

    def __init__(
        self,
        *,
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",
        tenant: str = "organizations",
        redirect_uris: tuple[str, ...] = (),
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.redirect_uris = list(redirect_uris)
        self.user = IdpUser()
        self.authorize_mode = "auto"  # "auto" | "interactive" | "error"
        self.authorize_error = ("access_denied", "AADSTS65004: User declined to consent.")
        self.access_token_lifetime = 3600
        self.refresh_error: tuple[str, str] | None = None  # e.g. invalid_grant, AADSTS700082
        self.refresh_delay = 0.0  # seconds, to make concurrent refreshes overlap
        self.lock = threading.Lock()
        self.codes: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.ca, self._cert = _certificates()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> IdentityProvider:
        provider = self

        class Handler(_Handler):
            idp = provider

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def ca_pem_write(self, path: str) -> str:
        self.ca.cert_pem.write_to_path(path)
        return path

    # --- addresses -----------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def authority(self) -> str:
        return f"{self.origin}/{self.tenant}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    # --- observations for tests ----------------------------------------------------------------
    def grants(self, grant_type: str) -> list[dict[str, str]]:
        with self.lock:
            return [r for r in self.token_requests if r.get("grant_type") == grant_type]

    @property
    def refresh_count(self) -> int:
        return len(self.grants("refresh_token"))

    def is_valid_access_token(self, token: str) -> str | None:
        """Return the account an unexpired access token was issued to, else None."""
        with self.lock:
            entry = self.access_tokens.get(token)
        if entry is None or entry[1] <= time.time():
            return None
        return entry[0]

    def refresh_token_valid(self, token: str) -> bool:
        with self.lock:
            grant = self.refresh_tokens.get(token)
            return grant is not None and not grant.used

    # --- protocol ------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        base = f"{self.authority}/oauth2/v2.0"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{self.authority}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["HS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }

    def code_issue(self, params: dict[str, str]) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = Grant(
                user=self.user,
                client_id=params.get("client_id", ""),
                scope=params.get("scope", ""),
                nonce=params.get("nonce", ""),
                redirect_uri=params.get("redirect_uri", ""),
                code_challenge=params.get("code_challenge", ""),
                code_challenge_method=params.get("code_challenge_method", ""),
            )
        return code

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        header = {"alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "sub": hashlib.sha256(grant.user.oid.encode()).hexdigest()[:43],
            "tid": grant.user.tid,
            "oid": grant.user.oid,
            "preferred_username": grant.user.preferred_username,
            "name": grant.user.name,
            "ver": "2.0",
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        signing_input = (
            f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        )
        signature = hmac.new(
            self.client_secret.encode(), signing_input.encode(), hashlib.sha256
        ).digest()
        return f"{signing_input}.{b64url(signature)}"

    def tokens_issue(self, grant: Grant) -> dict[str, Any]:
        access_token = "at-" + secrets.token_urlsafe(32)
        refresh_token = "rt-" + secrets.token_urlsafe(32)
        lifetime = self.access_token_lifetime
        with self.lock:
            self.access_tokens[access_token] = (
                grant.user.preferred_username,
                time.time() + lifetime,
            )
            self.refresh_tokens[refresh_token] = Grant(
                user=grant.user, client_id=grant.client_id, scope=grant.scope
            )
        client_info = {"uid": grant.user.oid, "utid": grant.user.tid}
        return {
            "token_type": "Bearer",
            "scope": "https://outlook.office.com/SMTP.Send",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access_token,
            "refresh_token": refresh_token,
            "id_token": self.id_token(grant),
            "client_info": b64url(json.dumps(client_info).encode()),
        }

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.token_requests.append(dict(form))
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        if client_id != self.client_id:
            return 400, _error(
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                "directory.",
            )
        if not hmac.compare_digest(secret.encode(), self.client_secret.encode()):
            return 401, _error(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                "the request is the client secret value, not the client secret ID.",
            )
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._token_by_code(form)
        if grant_type == "refresh_token":
            return self._token_by_refresh(form)
        return 400, _error("unsupported_grant_type", "AADSTS70003: unsupported grant type")

    def _token_by_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            grant = self.codes.get(form.get("code", ""))
            if grant is None or grant.used:
                return 400, _error(
                    "invalid_grant",
                    "AADSTS54005: OAuth2 Authorization code was already redeemed.",
                )
            grant.used = True
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, _error(
                "invalid_grant", "AADSTS50148: The redirect_uri does not match the request."
            )
        verifier = form.get("code_verifier", "")
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        if grant.code_challenge_method != "S256" or not hmac.compare_digest(
            challenge, grant.code_challenge
        ):
            return 400, _error(
                "invalid_grant",
                "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in "
                "the authorization request.",
            )
        return 200, self.tokens_issue(grant)

    def _token_by_refresh(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.refresh_delay:
            time.sleep(self.refresh_delay)
        if self.refresh_error is not None:
            return 400, _error(*self.refresh_error)
        with self.lock:
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None or grant.used:
                return 400, _error(
                    "invalid_grant",
                    "AADSTS70008: The provided authorization code or refresh token has expired "
                    "due to inactivity.",
                )
            grant.used = True  # rotation: the old refresh token is spent
        return 200, self.tokens_issue(grant)


def _error(error: str, description: str) -> dict[str, Any]:
    codes = [int(description[6:].split(":")[0])] if description.startswith("AADSTS") else []
    return {
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {uuid.uuid4()}",
        "error_codes": codes,
    }


class _Handler(BaseHTTPRequestHandler):
    idp: IdentityProvider
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _redirect(self, location: str) -> None:
        self._send(302, b"", "text/plain", Location=location)

    def _route(self) -> str:
        path = urlsplit(self.path).path
        prefix = f"/{self.idp.tenant}"
        return path[len(prefix) :] if path.startswith(prefix + "/") else ""

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {key: values[0] for key, values in parse_qs(raw).items()}

    def do_GET(self) -> None:
        route = self._route()
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if route == "/v2.0/.well-known/openid-configuration":
            self._json(200, self.idp.discovery())
        elif route == "/oauth2/v2.0/authorize":
            self._authorize(query)
        else:
            self._json(404, _error("not_found", "AADSTS90002: not found"))

    def do_POST(self) -> None:
        route = self._route()
        form = self._form()
        if route == "/oauth2/v2.0/token":
            status, payload = self.idp.token(form, self.headers.get("Authorization"))
            self._json(status, payload)
        elif route == "/oauth2/v2.0/authorize/accept":
            self._finish(form)
        else:
            self._json(404, _error("not_found", "AADSTS90002: not found"))

    def _authorize(self, params: dict[str, str]) -> None:
        idp = self.idp
        with idp.lock:
            idp.authorize_requests.append(dict(params))
        if params.get("client_id") != idp.client_id:
            body = b"AADSTS700016: Application not found in the directory."
            self._send(400, body, "text/plain")
            return
        if params.get("redirect_uri") not in idp.redirect_uris:
            # Microsoft shows this on its own page: it never redirects to an unknown URI.
            body = (
                b"AADSTS50011: The redirect URI specified in the request does not match the "
                b"redirect URIs configured for the application."
            )
            self._send(400, body, "text/plain")
            return
        if idp.authorize_mode == "interactive":
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            page = (
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
                f"<p>Sign in as {html.escape(idp.user.preferred_username)} and let the app "
                "send mail as you?</p>"
                f'<form method="post" action="/{idp.tenant}/oauth2/v2.0/authorize/accept">'
                f'{hidden}<button type="submit">Accept</button></form></body></html>'
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
            return
        self._finish(params)

    def _finish(self, params: dict[str, str]) -> None:
        idp = self.idp
        answer: dict[str, str]
        if idp.authorize_mode == "error":
            error, description = idp.authorize_error
            answer = {"error": error, "error_description": description}
        else:
            answer = {"code": idp.code_issue(params)}
        if params.get("state"):
            answer["state"] = params["state"]
        if params.get("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in answer.items()
            )
            page = (
                "<!DOCTYPE html><html><head><title>Working...</title></head>"
                '<body onload="document.forms[0].submit()">'
                f'<form method="post" action="{html.escape(params["redirect_uri"])}">{fields}'
                "<noscript><button type=submit>Continue</button></noscript></form></body></html>"
            )
            self._send(200, page.encode(), "text/html; charset=utf-8")
            return
        separator = "&" if "?" in params["redirect_uri"] else "?"
        self._redirect(f"{params['redirect_uri']}{separator}{urlencode(answer)}")
