from __future__ import annotations

from django.urls import path

from massmail import views

app_name = "massmail"

urlpatterns = [
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:job_id>/<slug:action>/", views.job_action, name="job_action"),
]
