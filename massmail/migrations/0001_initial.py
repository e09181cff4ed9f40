# Mass mailing moves here from `mailer`: its tables (mailer_massmailjob, mailer_outgoingmail)
# stay as they are, so this migration only takes over the models' state; mailer 0005 lets go.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('invoices', '0001_initial'),
        ('users', '0002_card_email_unique_protect_global_account'),
        ('mailer', '0004_mailevent_moves_to_events'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='MassMailJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('paused', 'Paused'), ('cancelled', 'Cancelled'), ('finished', 'Finished')], db_index=True, default='queued', max_length=12)),
                        ('subject_template', models.TextField()),
                        ('body_template', models.TextField()),
                        ('total', models.PositiveIntegerField(default=0)),
                        ('sent_count', models.PositiveIntegerField(default=0)),
                        ('failed_count', models.PositiveIntegerField(default=0)),
                        ('unknown_count', models.PositiveIntegerField(default=0)),
                        ('status_reason', models.TextField(blank=True, help_text='Why the job is paused, waiting or was refused or cancelled.')),
                        ('resume_at', models.DateTimeField(blank=True, help_text='The sender is paused (quota) until this time.', null=True)),
                        ('created_by', models.CharField(blank=True, max_length=150)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='mass_mail_jobs', to='users.usercard')),
                    ],
                    options={
                        'verbose_name': 'mass-mail job',
                        'db_table': 'mailer_massmailjob',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='OutgoingMail',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('recipient', models.CharField(blank=True, max_length=320)),
                        ('message_id', models.CharField(max_length=250)),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('claimed', 'Claimed by a worker'), ('transmitting', 'Transmitting'), ('sent', 'Sent'), ('failed', 'Failed'), ('unknown', 'Outcome unknown'), ('retry', 'Retry scheduled'), ('bounced', 'Bounced')], default='queued', max_length=12)),
                        ('cause', models.CharField(blank=True, max_length=64)),
                        ('user_message', models.TextField(blank=True)),
                        ('smtp_code', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('attempts', models.PositiveSmallIntegerField(default=0)),
                        ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                        ('lease_until', models.DateTimeField(blank=True, null=True)),
                        ('claimed_by', models.CharField(blank=True, max_length=120)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('invoice', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outgoing_mails', to='invoices.invoice')),
                        ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='mails', to='massmail.massmailjob')),
                    ],
                    options={
                        'verbose_name': 'outgoing mail',
                        'verbose_name_plural': 'outgoing mail',
                        'db_table': 'mailer_outgoingmail',
                        'ordering': ['job', 'id'],
                        'indexes': [models.Index(fields=['job', 'status', 'id'], name='mailer_outgoing_job_status'), models.Index(condition=models.Q(('status__in', ['claimed', 'transmitting'])), fields=['lease_until'], name='mailer_outgoing_lease')],
                        'constraints': [models.UniqueConstraint(fields=('job', 'invoice'), name='mailer_outgoing_one_per_job')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
