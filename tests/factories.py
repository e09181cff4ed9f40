"""factory_boy factories for cards and system settings."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from users.models import MailSender, SslTls, SystemSettings, UserCard


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"U{n:03d}")
    password = factory.django.Password("correct-horse-battery-staple")


class UserCardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserCard

    code = factory.Sequence(lambda n: f"USR{n:03d}")
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..code"))
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda card: f"{card.code.lower()}@example.test")
    mail_sender = MailSender.DIRECTO


class SmtpCardFactory(UserCardFactory):
    mail_sender = MailSender.SMTP
    mail_server = "smtp.example.test:587"
    ssl_tls = SslTls.STARTTLS
    smtp_username = factory.LazyAttribute(lambda card: card.email)
    smtp_password = "s3cret-pass"


def system_settings_set(**values: object) -> SystemSettings:
    """Save the singleton with the given values."""
    row = SystemSettings.load()
    for key, value in values.items():
        setattr(row, key, value)
    row.save()
    return row
