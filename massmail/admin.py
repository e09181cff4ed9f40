"""Admin pages of mass-mail jobs and their outgoing mail."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from massmail.conf import MassMailRefusedError
from massmail.jobs import massmail_job_cancel, massmail_job_pause, massmail_job_resume
from massmail.models import MassMailJob, OutgoingMail
from massmail.progress import jobs_with_counts


class OutgoingMailInline(admin.TabularInline):
    model = OutgoingMail
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    fields = ("document_label", "recipient", "status", "cause", "attempts", "sent_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutgoingMail]:
        # The first rows only: a job may hold 100,000 of them (the job page pages them all).
        ids = super().get_queryset(request).order_by("id").values_list("id", flat=True)[:50]
        return OutgoingMail.objects.filter(pk__in=list(ids))


@admin.register(MassMailJob)
class MassMailJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "owner",
        "status",
        "total",
        "sent",
        "failed",
        "unknown",
        "pending",
        "created_at",
        "finished_at",
        "job_page",
    )
    list_filter = ("status", "owner")
    search_fields = ("owner__code", "created_by")
    readonly_fields = (
        "owner",
        "status",
        "total",
        "sent_count",
        "failed_count",
        "unknown_count",
        "reason",
        "resume_at",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "subject_template",
        "body_template",
        "job_page",
    )
    inlines = (OutgoingMailInline,)
    actions = ("pause_jobs", "resume_jobs", "cancel_jobs")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MassMailJob]:
        return jobs_with_counts()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("sent"), ordering="n_sent")
    def sent(self, job: Any) -> int:
        return job.n_sent

    @admin.display(description=_("failed"), ordering="n_failed")
    def failed(self, job: Any) -> int:
        return job.n_failed

    @admin.display(description=_("unknown"), ordering="n_unknown")
    def unknown(self, job: Any) -> int:
        return job.n_unknown

    @admin.display(description=_("pending"), ordering="n_pending")
    def pending(self, job: Any) -> int:
        return job.n_pending

    @admin.display(description=_("progress"))
    def job_page(self, job: MassMailJob) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("massmail:job", args=[job.pk]), gettext("job page")
        )

    @admin.display(description=_("status reason"))
    def reason(self, job: MassMailJob) -> str:
        return job.reason or "—"

    def _each(self, request: HttpRequest, queryset: QuerySet[MassMailJob], service: Any) -> None:
        changed = 0
        for job in queryset:
            try:
                changed += bool(service(job=job))
            except MassMailRefusedError as exc:
                self.message_user(
                    request,
                    gettext("Job {job}: {reason}").format(job=job.pk, reason=exc.user_message),
                    messages.ERROR,
                )
        self.message_user(
            request,
            ngettext("{count} job changed.", "{count} jobs changed.", changed).format(
                count=changed
            ),
            messages.SUCCESS,
        )

    @admin.action(description=_("Pause selected jobs"), permissions=["change"])
    def pause_jobs(self, request: HttpRequest, queryset: QuerySet[MassMailJob]) -> None:
        self._each(request, queryset, massmail_job_pause)

    @admin.action(description=_("Resume selected jobs"), permissions=["change"])
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[MassMailJob]) -> None:
        self._each(request, queryset, massmail_job_resume)

    @admin.action(description=_("Cancel selected jobs"), permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[MassMailJob]) -> None:
        self._each(request, queryset, massmail_job_cancel)


@admin.register(OutgoingMail)
class OutgoingMailAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "job",
        "document_label",
        "recipient",
        "status",
        "cause",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "cause")
    list_select_related = ("job",)
    search_fields = ("recipient", "message_id", "document_label")
    readonly_fields = (
        "job",
        "document_id",
        "document_label",
        "recipient",
        "message_id",
        "status",
        "cause",
        "text",
        "params",
        "user_message",
        "smtp_code",
        "attempts",
        "next_attempt_at",
        "lease_until",
        "claimed_by",
        "sent_at",
    )
    show_full_result_count = False

    @admin.display(description=_("text"))
    def text(self, mail: OutgoingMail) -> str:
        return mail.text

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
