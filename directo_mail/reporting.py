"""Error reports (the debug page, mailed reports) that never show a configured credential."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.utils.regex_helper import _lazy_re_compile
from django.views.debug import SafeExceptionReporterFilter

# The authority's userinfo: everything between "scheme://" and the last "@" before the host
# (a password often holds an unescaped "@"; urllib splits the same way).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@")


def url_credentials_mask(text: str, substitute: str) -> str:
    """Return text with the password of every URL in it replaced by substitute.

    `scheme://user:pass@host` keeps its user (`scheme://user:****@host`); a userinfo without a
    colon is masked whole, as services such as Redis and Git hosts take a lone token there.
    """

    def mask(match: re.Match[str]) -> str:
        user, colon, _password = match.group("userinfo").partition(":")
        userinfo = f"{user}:{substitute}" if colon else substitute
        return f"{match.group('scheme')}{userinfo}@"

    return _URL_USERINFO.sub(mask, text)


class CredentialSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hide secrets by setting name, URL passwords in any value, and always, even with DEBUG on.

    Django's filter stands down while DEBUG is on; DEBUG switched on by mistake in production is
    exactly when the page reaches a stranger, so `sensitive_variables` and
    `sensitive_post_parameters` apply in every mode here.
    """

    hidden_settings = _lazy_re_compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|PRIVATE|DSN|BEARER|SALT",
        flags=re.IGNORECASE,
    )

    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        # Exactly str: a lazy object passes isinstance() but is left as Django leaves it.
        if type(cleansed) is str:
            return url_credentials_mask(cleansed, self.cleansed_substitute)
        return cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return [
            (name, self._values_mask(value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _values_mask(self, value: Any) -> Any:
        # A local that holds a URL (or a dict of them, like DATABASES) shows without its password.
        if type(value) is str:
            return url_credentials_mask(value, self.cleansed_substitute)
        if type(value) is dict and all(isinstance(key, str) for key in value):
            return {key: self.cleanse_setting(key, item) for key, item in value.items()}
        if type(value) in (list, tuple):
            return type(value)(self._values_mask(item) for item in value)
        return value
