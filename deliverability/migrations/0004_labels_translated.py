# Labels in the reader's language (issue 12): verbose names, choice labels and help texts only.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("deliverability", "0003_events_point_at_events_app"),
        ("events", "0002_mailevent_params"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="inboundmessage",
            options={
                "ordering": ["-received_at", "-id"],
                "verbose_name": "received message",
                "verbose_name_plural": "received messages",
            },
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="attribution",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Unattributed"),
                    ("verp", "Signed bounce address (VERP)"),
                    ("message_id", "Message-ID of a message sent to that recipient"),
                ],
                max_length=12,
                verbose_name="attribution",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="bounce_format",
            field=models.CharField(blank=True, max_length=20, verbose_name="bounce format"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="card",
            field=models.ForeignKey(
                blank=True,
                help_text="The card whose mail this is about; empty when nothing unforgeable says so.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="inbound_messages",
                to="users.usercard",
                verbose_name="user card",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="envelope_from",
            field=models.CharField(blank=True, max_length=320, verbose_name="envelope sender"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="envelope_to",
            field=models.TextField(
                blank=True,
                help_text="Envelope recipients, one a line.",
                verbose_name="envelope recipients",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="events",
            field=models.ManyToManyField(
                blank=True,
                related_name="inbound_messages",
                to="events.mailevent",
                verbose_name="events",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("bounce", "Bounce (delivery failed)"),
                    ("delayed", "Delivery delayed"),
                    ("inbound", "Other mail"),
                    ("unparsable", "Unparsable"),
                ],
                db_index=True,
                max_length=12,
                verbose_name="kind",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="message_id",
            field=models.CharField(blank=True, max_length=998, verbose_name="Message-ID"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="original_message_id",
            field=models.CharField(
                blank=True,
                db_index=True,
                max_length=998,
                verbose_name="Message-ID of the original message",
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="parse_error",
            field=models.CharField(blank=True, max_length=500, verbose_name="reading error"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="peer",
            field=models.CharField(blank=True, max_length=100, verbose_name="sending server"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="raw",
            field=models.BinaryField(blank=True, verbose_name="message as received"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="raw_truncated",
            field=models.BooleanField(default=False, verbose_name="stored in part (too large)"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="received_at",
            field=models.DateTimeField(
                auto_now_add=True, db_index=True, verbose_name="received at"
            ),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="size",
            field=models.PositiveIntegerField(default=0, verbose_name="size (bytes)"),
        ),
        migrations.AlterField(
            model_name="inboundmessage",
            name="subject",
            field=models.CharField(blank=True, max_length=998, verbose_name="subject"),
        ),
    ]
