"""Views of the signed-in user's own card ("Personal → User")."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def personal_card(request: HttpRequest) -> HttpResponse:
    return HttpResponse("TODO")
