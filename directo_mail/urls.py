"""URL configuration: admin, Django's login, the user's own card, the OAuth callback, languages."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from directo_mail.language import language_set
from directo_mail.throttle import password_reset_throttle

urlpatterns = [
    path("", RedirectView.as_view(url="/personal/user/", permanent=False)),
    path("admin/", admin.site.urls),
    # Before Django's auth URLs, so that reset requests are counted (directo_mail.throttle).
    path(
        "accounts/password_reset/",
        password_reset_throttle(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("personal/invoices/", include("invoices.urls")),
    path("personal/letters/", include("letters.urls")),
    path("personal/customers/", include("customers.urls")),
    path("personal/", include("portal.urls")),
    path("oauth365/", include("oauth365.urls")),
    path("deliverability/", include("deliverability.urls")),
    path("mail/", include("massmail.urls")),
    # Django's set_language (django.conf.urls.i18n holds only it) at its URL and name, wrapped
    # so that a signed-in user's card keeps the choice (directo_mail.language).
    path("i18n/setlang/", language_set, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]
