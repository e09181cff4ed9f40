from __future__ import annotations

from django.urls import path

from deliverability import views

app_name = "deliverability"

urlpatterns = [
    path("diagnostics/", views.diagnostics_own, name="diagnostics"),
    path("diagnostics/<str:code>/", views.diagnostics_card, name="card_diagnostics"),
    path("events/", views.events_own, name="events"),
    path("events/all/", views.events_all, name="all_events"),
]
