from __future__ import annotations

from django.urls import path

from users import views

app_name = "users"

urlpatterns = [
    path("user/", views.personal_card, name="personal_card"),
    path("user/test-mail/", views.personal_test_mail, name="test_mail"),
]
