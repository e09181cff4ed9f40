# Labels only (verbose names for the translated admin): no change to the database.

import django.db.models.deletion
import users.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oauth365', '0002_connection_constraint_message'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='m365connection',
            options={'verbose_name': 'Microsoft 365 connection', 'verbose_name_plural': 'Microsoft 365 connections'},
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='authenticated_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='authenticated at'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='card',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='m365_connection', to='users.usercard', verbose_name='user card'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='object_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='object ID'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='status',
            field=models.CharField(choices=[('connected', 'Authenticated'), ('reauth_needed', 'Re-authentication needed')], default='connected', max_length=20, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='tenant_id',
            field=models.CharField(blank=True, max_length=64, verbose_name='tenant ID'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='token_cache',
            field=users.fields.EncryptedTextField(blank=True, verbose_name='token cache'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='token_refreshed_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='token refreshed at'),
        ),
        migrations.AlterField(
            model_name='m365connection',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, verbose_name='updated at'),
        ),
    ]
