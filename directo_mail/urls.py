"""URL configuration: admin, Django's login, the user's own card and the OAuth callback."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

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
    path("personal/", include("portal.urls")),
    path("oauth365/", include("oauth365.urls")),
    path("deliverability/", include("deliverability.urls")),
    path("mail/", include("massmail.urls")),
]
