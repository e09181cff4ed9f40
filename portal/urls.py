"""The signed-in user's own pages under /personal/ ("Personal → …")."""

from __future__ import annotations

from django.urls import path

from portal import views

app_name = "personal"

urlpatterns = [
    path("user/", views.personal_card, name="card"),
    path("user/preview/", views.personal_card_preview, name="card_preview"),
    path("user/test-mail/", views.personal_test_mail, name="test_mail"),
]
