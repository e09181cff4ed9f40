# The event log moved to the `events` app (its table stays): mailer lets go of the model's
# state, and the content type follows, so permissions given to "Can view mail event" stay given.

from django.db import migrations


def content_type_move(apps, schema_editor, old="mailer", new="events"):
    """Give the old content type (and the permissions on it) to the new app label."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in ("mailevent",):
        moving = ContentType.objects.filter(app_label=old, model=model).first()
        if moving is None:
            continue
        # One made meanwhile (post_migrate after a rollback) holds no grants yet: it goes.
        Permission.objects.filter(content_type__app_label=new, content_type__model=model).delete()
        ContentType.objects.filter(app_label=new, model=model).delete()
        moving.app_label = new
        moving.save(update_fields=["app_label"])


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old="events", new="mailer")


class Migration(migrations.Migration):

    dependencies = [
        ('auth', '0012_alter_user_first_name_max_length'),
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
