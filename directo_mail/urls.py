"""URL configuration: admin, Django's login, the user's own card and the OAuth callback."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/personal/user/", permanent=False)),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("personal/", include("users.urls")),
    path("oauth365/", include("oauth365.urls")),
    path("deliverability/", include("deliverability.urls")),
    path("mail/", include("mailer.urls")),
]
