# The event log moved to the `events` app (its table stays): mailer lets go of the model's
# state, and the content type follows, so permissions given to "Can view mail event" stay given.

from django.db import migrations


def content_type_move(apps, schema_editor, old="mailer", new="events"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=old, model="mailevent").update(app_label=new)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old="events", new="mailer")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('mailer', '0003_outgoing_mail_bounced'),
        ('events', '0001_initial'),
        ('deliverability', '0003_events_point_at_events_app'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='MailEvent')],
            database_operations=[],
        ),
        migrations.RunPython(content_type_move, content_type_move_back),
    ]
