# The second half of the document seam (0002 copied the invoice ids): the invoice column goes.
# Its own migration, so that PostgreSQL's deferred foreign-key checks of 0002's updates have
# run before the table is altered.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('massmail', '0002_document_seam'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='outgoingmail',
            name='mailer_outgoing_one_per_job',
        ),
        migrations.RemoveField(
            model_name='outgoingmail',
            name='invoice',
        ),
        migrations.AlterField(
            model_name='outgoingmail',
            name='document_id',
            field=models.PositiveBigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name='outgoingmail',
            constraint=models.UniqueConstraint(fields=('job', 'document_id'), name='massmail_outgoing_one_per_job'),
        ),
    ]
