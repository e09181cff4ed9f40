"""Admin pages: user cards and the system-settings singleton."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from mailer.config import CardSettings, sender_config_resolve
from mailer.platform import platform_get
from portal.panels import (
    effective_settings_render,
    global_card_notice_render,
    m365_status_render,
    mode_explanations_render,
    preset_buttons_render,
)
from portal.views import mail_test_context, mail_test_handle, mail_test_respond
from users.forms import UserCardForm
from users.models import MailSender, SslTls, SystemSettings, UserCard
from users.services import usercard_account_get_or_create

SECRET_POST_FIELDS = ("smtp_password",)


def card_warnings_message(request: HttpRequest, card: UserCard) -> None:
    """Show what the save dropped and the card's advice (SSL/TLS versus port, half credentials)."""
    for warning in [*card.server_change_notices(), *card.warnings()]:
        messages.warning(request, warning)


@admin.register(UserCard)
class UserCardAdmin(admin.ModelAdmin):
    form = UserCardForm
    list_display = ("code", "name", "email", "mail_sender", "mail_server")
    list_filter = ("mail_sender",)
    search_fields = ("code", "name", "email", "smtp_username")
    ordering = ("code",)
    readonly_fields = (
        "provider_presets",
        "mail_sender_explained",
        "global_card",
        "m365_status",
        "effective_settings",
        "secret_state",
    )

    class Media:
        js = ("portal/card_form.js", "portal/test_mail.js")
        css = {"all": ("portal/card_form.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[UserCard]:
        return super().get_queryset(request).select_related("m365_connection")

    def get_readonly_fields(self, request: HttpRequest, obj: UserCard | None = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        # The code is the account's username: renaming it here would leave the account behind.
        return readonly if obj is None else ("code", *readonly)

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/test-mail/",
                self.admin_site.admin_view(self.test_mail_view),
                name=f"{opts.app_label}_{opts.model_name}_test_mail",
            ),
            *super().get_urls(),
        ]

    def _test_mail_url(self, card: UserCard) -> str:
        opts = self.opts
        return reverse(
            f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_test_mail", args=[card.pk]
        )

    def test_mail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send a test e-mail (or a dry run) through any saved card the staff user may change."""
        card = self.get_object(request, unquote(object_id))
        if card is None:
            raise Http404(gettext("No user card with the id “%(id)s”.") % {"id": object_id})
        if not self.has_change_permission(request, card):
            raise PermissionDenied
        action = self._test_mail_url(card)
        if request.method == "POST":
            context, status = mail_test_handle(request, card=card, action=action)
        else:
            context, status = mail_test_context(card=card, action=action), 200
        context |= {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": card,
            "title": gettext("Send test e-mail: %(code)s") % {"code": card.code},
            "subtitle": None,
        }
        return mail_test_respond(request, "admin/users/usercard/test_mail.html", context, status)

    def get_fieldsets(self, request: HttpRequest, obj: UserCard | None = None) -> Any:
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (None, {"fields": ("code", "name", "email", "language")}),
            (_("Sending"), {"fields": ("mail_sender", "mail_sender_explained")}),
            (
                _("Mail server"),
                {
                    "classes": ("server-fields",),
                    "description": _("Used only with SMTP and Microsoft 365 OAUTH."),
                    "fields": (
                        "provider_presets",
                        "mail_server",
                        "ssl_tls",
                        "smtp_username",
                        *self._secret_fields(request, obj),
                    ),
                },
            ),
            (
                _("Documents"),
                {"fields": ("mail_as_attachment", "attachments_with_email", "mail_edit")},
            ),
        ]
        if obj is not None and obj.is_global():
            fieldsets.insert(0, (_("Global card"), {"fields": ("global_card",)}))
        if obj is not None:
            fieldsets += [
                ("Microsoft 365", {"fields": ("m365_status",)}),
                (_("Effective settings"), {"fields": ("effective_settings",)}),
            ]
        return fieldsets

    def _secret_fields(self, request: HttpRequest, obj: UserCard | None) -> tuple[str, ...]:
        # A read-only view shows only whether a password is stored, never the field itself.
        if self.has_change_permission(request, obj) or (
            obj is None and self.has_add_permission(request)
        ):
            return ("smtp_password", "clear_smtp_password")
        return ("secret_state",)

    @admin.display(description=pgettext_lazy("user card", "Password"))
    def secret_state(self, obj: UserCard | None) -> str:
        if obj is not None and obj.smtp_password:
            return pgettext("password", "set")
        return pgettext("password", "not set")

    def get_list_display(self, request: HttpRequest) -> tuple[str | Callable[[Any], str], ...]:
        # Resolve every row against one global card and platform read once per page.
        system = SystemSettings.load()
        global_card = system.mail_sending_card()
        global_settings = CardSettings.from_card(global_card) if global_card else None
        platform = platform_get(company_slug=system.company_slug)

        @admin.display(description=_("effective mode"))
        def effective_mode(card: UserCard) -> str:
            config = sender_config_resolve(
                user=CardSettings.from_card(card), global_card=global_settings, platform=platform
            )
            label = MailSender(config.mode).label
            source = config.sources["mode"]
            return label if source == "user" else f"{label} ({source})"

        return (*self.list_display, effective_mode)

    @admin.display(description=_("Provider presets"))
    def provider_presets(self, obj: UserCard | None) -> SafeString:
        return preset_buttons_render()

    @admin.display(description=_("What the mail sender does"))
    def mail_sender_explained(self, obj: UserCard | None) -> SafeString:
        # The stored card: after an invalid POST the instance holds the rejected values.
        if obj is not None and obj.pk:
            obj = UserCard.objects.select_related("m365_connection").get(pk=obj.pk)
        return mode_explanations_render(obj if obj is not None else UserCard(code=""))

    @admin.display(description=_("Inheriting cards"))
    def global_card(self, obj: UserCard | None) -> SafeString | str:
        return global_card_notice_render(obj) if obj is not None else ""

    @admin.display(description=_("Microsoft 365 status"))
    def m365_status(self, obj: UserCard | None) -> SafeString | str:
        return m365_status_render(obj) if obj is not None and obj.pk else "—"

    @admin.display(description=_("Effective settings"))
    def effective_settings(self, obj: UserCard | None) -> SafeString | str:
        if obj is None or not obj.pk:
            return "—"
        # The stored row: after an invalid POST the instance holds the rejected values.
        stored = UserCard.objects.select_related("m365_connection").get(pk=obj.pk)
        return effective_settings_render(stored)

    @method_decorator(sensitive_post_parameters(*SECRET_POST_FIELDS))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        card = self.get_object(request, unquote(object_id)) if object_id else None
        if card is not None and self.has_change_permission(request, card):
            url = self._test_mail_url(card)
            extra_context = {
                **(extra_context or {}),
                **mail_test_context(card=card, action=url),
                "test_mail_url": url,
            }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: UserCard, form: Any, change: bool) -> None:
        if obj.user_id is None:
            obj.user = usercard_account_get_or_create(code=obj.code)
        super().save_model(request, obj, form, change)
        card_warnings_message(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: UserCard | None = None) -> bool:
        if obj is not None and obj.is_global():
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        system = SystemSettings.load()
        global_cards = [card for card in objs if system.names_card(card.code)]
        if global_cards:
            # has_delete_permission(obj) refused the global card; say why instead of blaming
            # the administrator's permissions.
            if self.has_delete_permission(request):
                perms_needed = set(perms_needed) - {str(self.opts.verbose_name)}
            protected = [
                *protected,
                *(
                    format_html(
                        gettext(
                            "User card {code}: the mail sending user of the system settings. "
                            "Name another card there before deleting it."
                        ),
                        code=card.code,
                    )
                    for card in global_cards
                ),
            ]
        return deleted, model_count, perms_needed, protected

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UserCard]) -> None:
        try:
            super().delete_queryset(request, queryset)
        except ProtectedError as exc:
            # Reached only if the system setting changed between confirmation and deletion.
            self.message_user(request, exc.args[0], messages.ERROR)


@admin.register(SystemSettings)
class SystemSettingsAdmin(admin.ModelAdmin):
    fieldsets = (
        (None, {"fields": ("mail_sending_user_code", "company_name")}),
        (
            _("Platform (from the environment)"),
            {"fields": ("event_mailbox_address", "platform_relay", "platform_outbound_ips")},
        ),
    )
    readonly_fields = ("event_mailbox_address", "platform_relay", "platform_outbound_ips")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        row = SystemSettings.load()
        if row._state.adding:
            row.save()
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Event mailbox address"))
    def event_mailbox_address(self, obj: SystemSettings) -> str:
        return obj.event_mailbox_address() or gettext("— (set the company name)")

    @admin.display(description=_("Platform relay (Directo mode)"))
    def platform_relay(self, obj: SystemSettings) -> str:
        # Host, port and TLS only: PLATFORM_RELAY_URL may carry credentials.
        platform = platform_get()
        return gettext("%(host)s:%(port)s, SSL/TLS: %(ssl_tls)s") % {
            "host": platform.relay_host,
            "port": platform.relay_port,
            "ssl_tls": SslTls(platform.relay_ssl_tls).label,
        }

    @admin.display(description=_("Platform outbound IP addresses"))
    def platform_outbound_ips(self, obj: SystemSettings) -> str:
        return ", ".join(settings.PLATFORM_OUTBOUND_IPS) or "—"
