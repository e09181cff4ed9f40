"""The user card and the system-settings singleton (SPEC.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import ProtectedError
from django.db.models.functions import Lower
from django.utils.text import slugify
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from users.fields import EncryptedTextField, secret_entered, secrets_entered_forget
from users.providers import is_gmail_host, is_microsoft_365_host
from users.signals import card_server_changed
from users.validation import (
    gmail_app_password_normalize,
    mail_server_parse,
    reject_control_characters,
    ssl_tls_warning,
)

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.@+-]*\Z",
    _("A user code starts with a letter or digit and holds only letters, digits and . @ + - _"),
    code="invalid_code",
)


class MailSender(models.TextChoices):
    # Product names: the same in every language (SPEC.md).
    DIRECTO = "directo", "Directo"
    SMTP = "smtp", "SMTP"
    M365_OAUTH = "m365_oauth", "Microsoft 365 OAUTH"
    DIRECTO_REPLY_TO = "directo_reply_to", "Directo-Reply-To"


#: Google's app passwords: 16 letters (shown in groups of four, spaces removed on saving).
GMAIL_APP_PASSWORD_LENGTH = 16

#: The card's contract fields (SPEC.md): model, forms, import/export and JSON use these names.
CARD_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "email",
    "mail_sender",
    "mail_server",
    "ssl_tls",
    "smtp_username",
    "smtp_password",
    "mail_as_attachment",
    "attachments_with_email",
    "mail_edit",
    "language",
)

#: Modes that send through a server named on a card (SPEC.md: server fields shown, mass mail).
SERVER_MODES = frozenset({MailSender.SMTP, MailSender.M365_OAUTH})


class SslTls(models.TextChoices):
    # Not the Yes/No "No": the glossary's SSL/TLS "No" (Ei, Nē, Nie).
    NO = "no", pgettext_lazy("SSL/TLS", "No")
    SSL = "ssl", "SSL"
    STARTTLS = "starttls", "StartTLS / SSL / TLS"


class MailAsAttachment(models.TextChoices):
    PDF = "pdf", "PDF"
    NO = "no", pgettext_lazy("mail as attachment", "No")


class Language(models.TextChoices):
    """The interface languages (settings.LANGUAGES has the same codes); blank: the browser's."""

    ENGLISH = "en", _("English")
    ESTONIAN = "et", _("Estonian")
    LATVIAN = "lv", _("Latvian")
    POLISH = "pl", _("Polish")


class UserCardQuerySet(models.QuerySet["UserCard"]):
    def by_code(self, code: str) -> UserCard | None:
        """Return the card whose code matches case-insensitively (codes are unique so), or None."""
        return self.filter(code__iexact=code.strip()).first()

    def delete(self) -> tuple[int, dict[str, int]]:
        for card in self:
            card.delete_check()
        return super().delete()


def cascade_unless_global(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    """Delete a login account's card with it, unless that card is the mail sending user's.

    `on_delete` runs before anything is deleted, so deleting the account is refused whole.
    """
    system = SystemSettings.load()
    protected = [card for card in sub_objs if system.names_card(card.code)]
    if protected:
        codes = ", ".join(card.code for card in protected)
        raise ProtectedError(
            gettext(
                "The account of card %(codes)s cannot be deleted: that card is the mail sending "
                "user of the system settings. Name another card there first."
            )
            % {"codes": codes},
            set(protected),
        )
    models.CASCADE(collector, field, sub_objs, using)


class UserCard(models.Model):
    """One user's mail settings; the card named by the system setting is everyone's base."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=cascade_unless_global, related_name="card"
    )
    code = models.CharField(
        _("user code"),
        max_length=30,
        validators=[code_validator],
        help_text=_("Short unique code, e.g. KIVI; the user's login name."),
    )
    # "user card" context: Django's auth catalog has "name", "username" and "password" with
    # other words (kasutajatunnus, salasõna), and it outranks this app's; SPEC's glossary wins.
    name = models.CharField(
        pgettext_lazy("user card", "name"),
        max_length=150,
        blank=True,
        validators=[reject_control_characters],
    )
    email = models.EmailField(
        _("e-mail"),
        blank=True,
        validators=[reject_control_characters],
        help_text=_("Your own address: the From of everything you send (except Directo-Reply-To)."),
    )
    # The labels of the card's fields are SPEC.md's glossary (Mail sender, Mail server, …).
    mail_sender = models.CharField(
        _("mail sender"), max_length=20, choices=MailSender.choices, default=MailSender.DIRECTO
    )
    mail_server = models.CharField(
        _("mail server"),
        max_length=260,
        blank=True,
        validators=[reject_control_characters],
        help_text=_("host:port, e.g. smtp.gmail.com:465; IPv6 as [::1]:587. Ports 25, 465 or 587."),
    )
    ssl_tls = models.CharField(
        "SSL/TLS",
        max_length=10,
        choices=SslTls.choices,
        blank=True,
        help_text=_(
            "Blank: as on the global card, or as the port suggests (465: SSL, 25/587: StartTLS)."
        ),
    )
    smtp_username = models.CharField(
        pgettext_lazy("user card", "username"),
        max_length=254,
        blank=True,
        validators=[reject_control_characters],
        help_text=_(
            "Blank means the server needs no authentication (or the global card's is used)."
        ),
    )
    smtp_password = EncryptedTextField(
        pgettext_lazy("user card", "password"), blank=True, validators=[reject_control_characters]
    )
    mail_as_attachment = models.CharField(
        _("mail as attachment"),
        max_length=3,
        choices=MailAsAttachment.choices,
        default=MailAsAttachment.PDF,
        help_text=_(
            "PDF: the document (invoice) is attached as a PDF. No: the document goes into the "
            "body of the e-mail."
        ),
    )
    attachments_with_email = models.BooleanField(
        _("attachments with email"),
        default=False,
        help_text=_("Send the document's own file attachments along."),
    )
    mail_edit = models.BooleanField(
        _("mail edit"),
        default=False,
        help_text=_(
            "Open an editable draft before a single send; for mass mail, edit the template before "
            "the job starts."
        ),
    )
    language = models.CharField(
        _("language"),
        max_length=5,
        choices=Language.choices,
        blank=True,
        default="",
        help_text=_("The language of your pages and messages. Blank follows the browser."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = UserCardQuerySet.as_manager()

    class Meta:
        verbose_name = _("user card")
        verbose_name_plural = _("user cards")
        ordering: ClassVar = ["code"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                Lower("code"),
                name="users_usercard_code_ci_unique",
                violation_error_message=_("A card with this user code already exists."),
            ),
            # The usercard mailer and bounce matching attribute mail by this address.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="users_usercard_email_ci_unique",
                violation_error_message=_(
                    "Another card already has this e-mail address: each card's address is its "
                    "own. Use a different address, or change the other card first."
                ),
            ),
            models.CheckConstraint(
                condition=models.Q(mail_sender__in=MailSender.values),
                name="users_usercard_mail_sender_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ssl_tls__in=[*SslTls.values, ""]),
                name="users_usercard_ssl_tls_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=[*Language.values, ""]),
                name="users_usercard_language_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})" if self.name else self.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a changed mail server host drops the secrets that were meant for the old one."""
        cleared = self._secrets_clear_on_server_change(kwargs)
        super().save(*args, **kwargs)
        secrets_entered_forget(self)
        if cleared:
            card_server_changed.send(sender=type(self), card_ids=cleared)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Any, values: Any, *, fetch_mode: Any = None
    ) -> UserCard:
        card = super().from_db(db, field_names, values, fetch_mode=fetch_mode)
        secrets_entered_forget(card)
        return card

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        super().refresh_from_db(using, fields, *args, **kwargs)
        secrets_entered_forget(self, None if fields is None else list(fields))

    def _secrets_clear_on_server_change(self, kwargs: dict[str, Any]) -> list[int]:
        """Clear the stored password unless entered again; return the cards whose secrets go.

        Otherwise whoever may change a card could point its server at their own host and
        press "Send test e-mail" to receive the stored password (or the Microsoft 365 token).
        The global card's host is also the host of every card without a server of its own, so
        their own passwords are cleared with it.
        """
        self.secrets_dropped = False
        self.inheriting_secrets_dropped = 0
        if self._state.adding or self.pk is None:
            return []
        stored = type(self).objects.filter(pk=self.pk).values_list("mail_server", flat=True)
        stored_server = stored.first()
        if stored_server is None or _server_host(stored_server) == _server_host(self.mail_server):
            return []
        cleared = [self.pk]
        if not secret_entered(self, "smtp_password"):
            self.secrets_dropped = (
                type(self).objects.filter(pk=self.pk).exclude(smtp_password="").exists()
            )
            self.smtp_password = ""
            update_fields = kwargs.get("update_fields")
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "smtp_password"}
        if self.is_global():
            inheriting = type(self).objects.filter(mail_server="").exclude(pk=self.pk)
            self.inheriting_secrets_dropped = inheriting.exclude(smtp_password="").update(
                smtp_password=""
            )
            cleared += list(inheriting.values_list("pk", flat=True))
        return cleared

    def server_change_notices(self) -> list[str]:
        """Return what the last save dropped because the mail server changed."""
        notices = []
        if getattr(self, "secrets_dropped", False):
            notices.append(
                gettext(
                    "The mail server changed, so the stored password was removed: a password "
                    "goes only to the server it was entered for. Enter the password again."
                )
            )
        count = getattr(self, "inheriting_secrets_dropped", 0)
        if count:
            notices.append(
                ngettext(
                    "%(count)d card that uses this card's server with its own password had the "
                    "password removed: its user enters it again.",
                    "%(count)d cards that use this card's server with their own password had the "
                    "password removed: their users enter it again.",
                    count,
                )
                % {"count": count}
            )
        return notices

    def delete_check(self) -> None:
        """Refuse to delete the card the system setting names (before any write starts)."""
        if SystemSettings.load().names_card(self.code):
            raise ProtectedError(
                gettext(
                    "Card %(code)s is the mail sending user of the system settings: name another "
                    "card there before deleting it."
                )
                % {"code": self.code},
                {self},
            )

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.delete_check()
        return super().delete(*args, **kwargs)

    @property
    def has_server_fields(self) -> bool:
        return self.mail_sender in SERVER_MODES

    def is_global(self) -> bool:
        """Return whether the system setting names this card as the mail sending user."""
        return bool(self.pk) and SystemSettings.load().names_card(self._stored_code())

    def _stored_code(self) -> str:
        if not self.pk:
            return self.code
        return type(self).objects.filter(pk=self.pk).values_list("code", flat=True).first() or ""

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.mail_server:
            try:
                self.mail_server = str(mail_server_parse(self.mail_server))
            except ValidationError as exc:
                errors.setdefault("mail_server", []).extend(exc.messages)
        if self.email:
            others = UserCard.objects.filter(email__iexact=self.email).exclude(pk=self.pk)
            if others.exists():
                errors.setdefault("email", []).append(
                    gettext(
                        "Another card already has this e-mail address: each card's address is its "
                        "own. Use a different address, or change the other card first."
                    )
                )
        host = self.server_host() or self._global_host()
        if host and is_gmail_host(host) and self.smtp_password:
            typed = self.smtp_password.reveal()
            if gmail_app_password_normalize(typed) != typed:
                self.smtp_password = gmail_app_password_normalize(typed)
        if host and is_microsoft_365_host(host):
            if (
                self.mail_sender != MailSender.M365_OAUTH
                and (self.smtp_username or self.smtp_password)
                and self.mail_sender in SERVER_MODES
            ):
                errors.setdefault("mail_sender", []).append(
                    gettext(
                        "Microsoft 365 no longer accepts a username and password for SMTP (basic "
                        "authentication was retired in April 2026). Choose “Microsoft 365 OAUTH” "
                        "as the mail sender, clear the password, and click Authenticate "
                        "Microsoft 365."
                    )
                )
            elif self.mail_sender == MailSender.M365_OAUTH and self.smtp_password:
                errors.setdefault("smtp_password", []).append(
                    gettext("Microsoft 365 OAUTH uses no password: clear the stored password.")
                )
        if self.pk and self.is_global():
            if self.mail_sender not in SERVER_MODES:
                errors.setdefault("mail_sender", []).append(
                    gettext(
                        "Card %(code)s is the mail sending user of the system settings, so its "
                        "mail sender must stay SMTP or Microsoft 365 OAUTH. Name another card in "
                        "System settings first, or clear the mail sending user code."
                    )
                    % {"code": self.code}
                )
            if self.code.lower() != self._stored_code().lower():
                errors.setdefault("code", []).append(
                    gettext(
                        "This card is the mail sending user of the system settings: change the "
                        "system setting before renaming its code."
                    )
                )
        if errors:
            raise ValidationError(errors)

    def server_host(self) -> str:
        """Return the host of this card's own mail server, or an empty string."""
        if not self.mail_server:
            return ""
        try:
            return mail_server_parse(self.mail_server).host
        except ValidationError:
            return ""

    def _global_host(self) -> str:
        settings_row = SystemSettings.load()
        global_card = settings_row.mail_sending_card()
        if global_card is None or global_card.pk == self.pk:
            return ""
        return global_card.server_host()

    def warnings(self) -> list[str]:
        """Return advice that does not block saving (SSL/TLS versus port, half credentials)."""
        found = []
        if self.mail_server:
            try:
                server = mail_server_parse(self.mail_server)
            except ValidationError:
                server = None
            if server is not None:
                warning = ssl_tls_warning(server.port, self.ssl_tls)
                if warning:
                    found.append(warning)
        if self.smtp_username and not self.smtp_password and self.mail_sender == MailSender.SMTP:
            found.append(
                gettext(
                    "A username is set without a password: set the password, or clear the "
                    "username to use the global card's credentials."
                )
            )
        password = self.smtp_password
        typed = password.reveal() if hasattr(password, "reveal") else str(password or "")
        if typed and self.mail_sender == MailSender.SMTP:
            host = self.server_host() or self._global_host()
            if is_gmail_host(host) and len("".join(typed.split())) != GMAIL_APP_PASSWORD_LENGTH:
                found.append(
                    gettext(
                        "Gmail accepts only a 16-character app password, and this password is not "
                        "16 characters long: create an app password (Google account → Security → "
                        "App passwords) and enter it as Password."
                    )
                )
        if self.smtp_password and not self.smtp_username:
            found.append(
                gettext(
                    "A password is set without a username: set the username, or clear the password."
                )
            )
        return found


def _server_host(mail_server: str) -> str:
    """Return the host of a `host:port` value, lower-cased ("" when blank or unparsable)."""
    if not mail_server:
        return ""
    try:
        return mail_server_parse(mail_server).host.lower()
    except ValidationError:
        return mail_server.strip().lower()


class SystemSettings(models.Model):
    """The singleton of system-wide mail settings."""

    SINGLETON_PK = 1

    mail_sending_user_code = models.CharField(
        _("mail sending user code"),
        max_length=30,
        blank=True,
        validators=[reject_control_characters],
        help_text=_("The SMTP configuration of this user is the basis for sending e-mails."),
    )
    company_name = models.CharField(
        _("company name"),
        max_length=200,
        blank=True,
        validators=[reject_control_characters],
        help_text=_(
            "Its slug is the event mailbox address, e.g. acme-trading@event.data.directo.ee."
        ),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("system settings")
        verbose_name_plural = _("system settings")
        constraints: ClassVar = [
            models.CheckConstraint(condition=models.Q(pk=1), name="users_systemsettings_singleton"),
        ]

    def __str__(self) -> str:
        return gettext("System settings")

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> SystemSettings:
        """Return the singleton, unsaved defaults when it does not exist yet."""
        return cls.objects.filter(pk=cls.SINGLETON_PK).first() or cls(pk=cls.SINGLETON_PK)

    def names_card(self, code: str) -> bool:
        return bool(self.mail_sending_user_code) and (
            self.mail_sending_user_code.lower() == code.lower()
        )

    def mail_sending_card(self) -> UserCard | None:
        """Return the card named by the mail sending user code, if it exists."""
        if not self.mail_sending_user_code:
            return None
        return UserCard.objects.select_related("m365_connection").by_code(
            self.mail_sending_user_code
        )

    @property
    def company_slug(self) -> str:
        return slugify(self.company_name)

    def event_mailbox_address(self) -> str:
        """Return `<company-slug>@<event domain>`, or an empty string without a company."""
        slug = self.company_slug
        return f"{slug}@{settings.EVENT_MAILBOX_DOMAIN}" if slug else ""

    def clean(self) -> None:
        code = self.mail_sending_user_code.strip()
        self.mail_sending_user_code = code
        if not code:
            return
        card = UserCard.objects.by_code(code)
        if card is None:
            raise ValidationError(
                {
                    "mail_sending_user_code": gettext(
                        "No user card has the code “%(code)s”: create that card first, or name an "
                        "existing one."
                    )
                    % {"code": code}
                }
            )
        if card.mail_sender not in SERVER_MODES:
            raise ValidationError(
                {
                    "mail_sending_user_code": gettext(
                        "Card %(code)s sends with “%(sender)s”; the mail sending user's card must "
                        "use SMTP or Microsoft 365 OAUTH. Change its mail sender first."
                    )
                    % {"code": card.code, "sender": card.get_mail_sender_display()}
                }
            )
        self.mail_sending_user_code = card.code
