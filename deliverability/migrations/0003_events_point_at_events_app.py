# The event log moved from `mailer` to `events` with its table: the many-to-many keeps its table
# and columns, only the model it names in the migration state changes.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('deliverability', '0002_inbound_attribution'),
        ('events', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='inboundmessage',
                    name='events',
                    field=models.ManyToManyField(blank=True, related_name='inbound_messages', to='events.mailevent'),
                ),
            ],
            database_operations=[],
        ),
    ]
