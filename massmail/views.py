"""The mass-mail job page: live progress (JSON polled by the page), pause, resume, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from massmail.conf import MassMailRefusedError
from massmail.documents import document_kind_get, document_kinds
from massmail.jobs import massmail_job_cancel, massmail_job_pause, massmail_job_resume
from massmail.models import MailStatus, MassMailJob
from massmail.progress import massmail_job_progress, massmail_job_rows

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

ROWS_PER_PAGE = 100
VIEW_JOBS = "massmail.view_massmailjob"
CHANGE_JOBS = "massmail.change_massmailjob"
_ACTIONS = {
    "pause": massmail_job_pause,
    "resume": massmail_job_resume,
    "cancel": massmail_job_cancel,
}


def _job_get(request: HttpRequest, job_id: int) -> MassMailJob:
    """Return the job when the user owns it or may view every job; others get a 404, not a 403."""
    job = MassMailJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or not (
        job.owner.user_id == request.user.pk or request.user.has_perm(VIEW_JOBS)
    ):
        raise Http404(gettext("No such job."))
    return job


def _kind_label(job: MassMailJob) -> StrOrPromise:
    """Return what the pages call the job's kind; a kind no longer registered, its stored name."""
    try:
        return document_kind_get(job.document_kind).verbose_name_plural
    except LookupError:
        return job.document_kind


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """List the signed-in user's jobs (with the view permission: every job), newest first."""
    visible = MassMailJob.objects.select_related("owner")
    if not request.user.has_perm(VIEW_JOBS):
        visible = visible.filter(owner__user_id=int(request.user.pk or 0))
    jobs = list(visible[:200])
    context = {
        "jobs": jobs,
        "rows": [(job, _kind_label(job)) for job in jobs],
        # Each kind names the page where a mailing of it starts; massmail imports none of them.
        "starts": [
            (kind.verbose_name_plural, reverse(kind.start_url_name))
            for kind in document_kinds()
            if kind.start_url_name
        ],
    }
    return render(request, "massmail/job_list.html", context)


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """Show a job: the progress bar, the controls and each invoice's status with its cause."""
    job = _job_get(request, job_id)
    status = request.GET.get("status", "")
    if status not in MailStatus.values:
        status = ""
    page = Paginator(massmail_job_rows(job=job, status=status), ROWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "job": job,
        "kind_label": _kind_label(job),
        "progress": massmail_job_progress(job=job),
        "page": page,
        "status_filter": status,
        "statuses": MailStatus.choices,
    }
    return render(request, "massmail/job_detail.html", context)


@login_required
@require_GET
def job_progress(request: HttpRequest, job_id: int) -> JsonResponse:
    """Return the job's counts per status, rate and expected finish (polled by the page)."""
    job = _job_get(request, job_id)
    progress = massmail_job_progress(job=job).as_dict()
    # The reason is stored as a cause or in English; the page shows it in the reader's language.
    progress["reason"] = job.reason
    return JsonResponse(progress)


@login_required
@require_POST
def job_action(request: HttpRequest, job_id: int, action: str) -> HttpResponse:
    """Pause, resume or cancel a job, then show the job page again."""
    job = _job_get(request, job_id)
    service = _ACTIONS.get(action)
    if service is None:
        raise Http404(gettext("No such action."))
    if job.owner.user_id != request.user.pk and not request.user.has_perm(CHANGE_JOBS):
        raise PermissionDenied(
            gettext("Changing another user's job needs the permission to change jobs.")
        )
    try:
        changed = service(job=job)
    except MassMailRefusedError as exc:
        messages.error(request, exc.user_message)
    else:
        if changed:
            done = {
                "pause": gettext("Job {job} is paused."),
                "resume": gettext("Job {job} is resumed."),
                "cancel": gettext("Job {job} is cancelled."),
            }[action]
            messages.success(request, done.format(job=job.pk))
        else:
            messages.warning(
                request,
                gettext("Job {job} is {status}.").format(
                    job=job.pk, status=job.get_status_display().lower()
                ),
            )
    return redirect("massmail:job", job_id=job.pk)
