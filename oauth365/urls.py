from __future__ import annotations

from django.urls import path

from oauth365 import views

app_name = "oauth365"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("callback/", views.callback, name="callback"),
    path("done/", views.done, name="done"),
    path("status/", views.status, name="status"),
    path("disconnect/", views.disconnect, name="disconnect"),
    path("disconnect/<int:card_id>/", views.disconnect, name="disconnect_card"),
    path("use-account/", views.use_account, name="use_account"),
]
