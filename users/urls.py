from __future__ import annotations

from django.urls import path

from users import views

app_name = "users"

urlpatterns = [
    path("user/", views.personal_card, name="personal_card"),
]
