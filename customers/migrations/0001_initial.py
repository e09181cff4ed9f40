# Customer moves here from `letters`: this migration only takes over the model's state (its
# table, letters_customer, stays); letters 0002 lets go and moves the content type, and
# customers 0002 then renames the table to customers_customer.

import django.db.models.deletion
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('letters', '0001_initial'),
        ('users', '0004_labels_translated'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Customer',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, verbose_name='name')),
                        ('email', models.EmailField(max_length=254, verbose_name='e-mail address')),
                        ('language', models.CharField(choices=[('en', 'English'), ('et', 'Estonian'), ('lv', 'Latvian'), ('pl', 'Polish')], default='en', help_text='The language of the letters this customer receives.', max_length=2, verbose_name='language')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='customers', to='users.usercard', verbose_name='user card')),
                    ],
                    options={
                        'verbose_name': 'customer',
                        'verbose_name_plural': 'customers',
                        'ordering': ('name', 'pk'),
                        'db_table': 'letters_customer',
                        'constraints': [models.UniqueConstraint(models.F('owner'), django.db.models.functions.text.Lower('email'), name='letters_customer_owner_email_unique', violation_error_message='This user already has a customer with this address.')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
