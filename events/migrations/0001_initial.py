# The event log moves here from `mailer`: its table (mailer_mailevent) stays as it is, so this
# migration only takes over the model's state; mailer 0004 lets go of it.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('users', '0002_card_email_unique_protect_global_account'),
        ('mailer', '0003_outgoing_mail_bounced'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MailEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('user_code', models.CharField(db_index=True, max_length=30)),
                        ('kind', models.CharField(choices=[('send_failed', 'Send failed'), ('send_unknown', 'Outcome unknown'), ('bounce', 'Bounce'), ('reauth_needed', 'Re-authentication needed'), ('inbound', 'Other mail to the event mailbox')], max_length=20)),
                        ('cause', models.CharField(blank=True, db_index=True, max_length=64)),
                        ('message', models.TextField(blank=True)),
                        ('recipient', models.CharField(blank=True, max_length=320)),
                        ('message_id', models.CharField(blank=True, max_length=998)),
                        ('smtp_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('smtp_reply', models.TextField(blank=True)),
                        ('step', models.CharField(blank=True, max_length=16)),
                        ('card', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='mail_events', to='users.usercard')),
                    ],
                    options={
                        'db_table': 'mailer_mailevent',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(fields=['user_code', '-created_at'], name='mailer_mail_user_co_4533ee_idx')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
