"""Create the demo administrator, system settings and user cards; safe to run again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from users.models import MailSender, SslTls, SystemSettings, UserCard
from users.services import usercard_account_get_or_create
from users.signals import demo_cards_seeded

ADMIN_USERNAME = "admin"
DEMO_ADMIN_PASSWORD = "admin-demo"
DEMO_USER_PASSWORD = "user-demo"
COMPANY_NAME = "Acme Trading"
GLOBAL_CODE = "MAILER"
DEMO_DOMAIN = "acme-trading.test"


@dataclass(frozen=True)
class DemoCard:
    code: str
    name: str
    mail_sender: str
    mail_server: str = ""
    ssl_tls: str = ""
    smtp_username: str = ""
    smtp_password: str = ""
    note: str = ""
    login: bool = True

    @property
    def email(self) -> str:
        return f"{self.code.lower()}@{DEMO_DOMAIN}"


# The global card first: the system setting must name an existing SMTP card.
DEMO_CARDS = (
    DemoCard(
        GLOBAL_CODE,
        "Company mailer",
        MailSender.SMTP,
        mail_server="smtp.zone.eu:465",
        ssl_tls=SslTls.SSL,
        smtp_username=f"mailer@{DEMO_DOMAIN}",
        smtp_password="demo-mailer-password",
        note="the global SMTP card named in System settings",
        login=False,
    ),
    DemoCard("KIVI", "Kivi Kask", MailSender.DIRECTO, note="Directo: inherits MAILER's SMTP"),
    DemoCard("MARI", "Mari Maasikas", MailSender.DIRECTO, note="Directo: inherits MAILER's SMTP"),
    DemoCard(
        "JAAN",
        "Jaan Tamm",
        MailSender.SMTP,
        smtp_username=f"jaan@{DEMO_DOMAIN}",
        smtp_password="demo-jaan-password",
        note="SMTP: own username and password, MAILER's server",
    ),
    DemoCard(
        "LIIS",
        "Liis Lepp",
        MailSender.DIRECTO_REPLY_TO,
        note="Directo-Reply-To: From the event mailbox",
    ),
)


class Command(BaseCommand):
    help = (
        "Create a demo administrator, the system settings and demo user cards (a global SMTP "
        "card, users inheriting it, a username-and-password user, a Directo-Reply-To user). "
        "Existing rows are left as they are, so it is safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            help=f"Password of the '{ADMIN_USERNAME}' superuser (development default: "
            f"{DEMO_ADMIN_PASSWORD}; required outside development). Also resets an existing one.",
        )
        parser.add_argument(
            "--user-password",
            help="Password of the demo card accounts (development default: "
            f"{DEMO_USER_PASSWORD}; outside development it defaults to --password). Also resets "
            "existing ones.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        admin_password, user_password = self._passwords(options)
        try:
            with transaction.atomic():
                admin_line = self._admin(admin_password, reset=bool(options["password"]))
                reset_users = bool(options["user_password"])
                card_lines = [self._card(d, user_password, reset_users) for d in DEMO_CARDS[:1]]
                self._system_settings()
                card_lines += [self._card(d, user_password, reset_users) for d in DEMO_CARDS[1:]]
                codes = [demo.code for demo in DEMO_CARDS if demo.login]
                cards = list(UserCard.objects.filter(code__in=codes).order_by("code"))
                responses = demo_cards_seeded.send(sender=self.__class__, cards=cards)
        except ValidationError as exc:
            raise CommandError(f"Demo data is invalid: {'; '.join(exc.messages)}") from exc
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"  Admin (/admin/): {admin_line}")
        self.stdout.write("  Demo cards (users log in at /personal/user/):")
        for line in card_lines:
            self.stdout.write(f"    {line}")
        for _receiver, extra in responses:
            if extra:
                self.stdout.write(f"  {extra}")

    def _passwords(self, options: dict[str, Any]) -> tuple[str, str]:
        admin_password = options["password"]
        user_password = options["user_password"]
        if settings.DEVELOPMENT:
            return admin_password or DEMO_ADMIN_PASSWORD, user_password or DEMO_USER_PASSWORD
        if not admin_password:
            raise CommandError(
                "Refusing to create demo logins with a published password outside development "
                "(DJANGO_ENV is not 'development'). Pass --password (and optionally "
                "--user-password) to choose them."
            )
        return admin_password, user_password or admin_password

    def _admin(self, password: str, *, reset: bool) -> str:
        account = get_user_model()._default_manager.filter(username=ADMIN_USERNAME).first()
        if account is None:
            get_user_model()._default_manager.create_superuser(
                username=ADMIN_USERNAME, email=f"admin@{DEMO_DOMAIN}", password=password
            )
            return f"username {ADMIN_USERNAME}  {self._shown(password)}"
        if not (account.is_staff and account.is_superuser):
            account.is_staff = account.is_superuser = True
            account.save(update_fields=["is_staff", "is_superuser"])
        return f"username {ADMIN_USERNAME}  {self._password_state(account, password, reset)}"

    def _password_state(self, account: Any, password: str, reset: bool) -> str:
        """Set the demo password on a new or password-less account; never overwrite a chosen one."""
        if reset or not account.has_usable_password():
            account.set_password(password)
            account.save(update_fields=["password"])
            return self._shown(password)
        if account.check_password(password):
            return self._shown(password)
        return (
            "password unchanged (it was changed after seeding; "
            f"`python manage.py changepassword {account.get_username()}` sets a new one)"
        )

    @staticmethod
    def _shown(password: str) -> str:
        """Print only the published demo passwords; a chosen one is a secret."""
        if password in (DEMO_ADMIN_PASSWORD, DEMO_USER_PASSWORD):
            return f"password {password}"
        return "password as given on the command line"

    def _card(self, demo: DemoCard, user_password: str, reset: bool) -> str:
        card = UserCard.objects.select_related("user").by_code(demo.code)
        account: Any  # the configured user model
        if card is not None:
            account = card.user
        else:
            account = usercard_account_get_or_create(code=demo.code)
            card = UserCard(
                user=account,
                code=demo.code,
                name=demo.name,
                email=demo.email,
                mail_sender=demo.mail_sender,
                mail_server=demo.mail_server,
                ssl_tls=demo.ssl_tls,
                smtp_username=demo.smtp_username,
                smtp_password=demo.smtp_password,
            )
            card.full_clean()
            card.save()
        if not demo.login:
            # The global card's account is technical: administrators edit it in the admin.
            return f"{card.code:<7} (no login)  {demo.note}"
        login = self._password_state(account, user_password, reset)
        return f"{card.code:<7} username {account.get_username()}  {login}  {demo.note}"

    def _system_settings(self) -> None:
        row = SystemSettings.load()
        changed = False
        if not row.company_name:
            row.company_name, changed = COMPANY_NAME, True
        if not row.mail_sending_user_code:
            row.mail_sending_user_code, changed = GLOBAL_CODE, True
        if changed or row._state.adding:
            row.full_clean()
            row.save()
