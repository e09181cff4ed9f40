# The moved Customer gets its own app's table and constraint names (letters has let go of it,
# letters 0002); the rows, their ids and the per-owner address rule stay as they were.

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0001_initial'),
        ('letters', '0002_customer_moves_to_customers'),
    ]

    operations = [
        migrations.AlterModelTable(name='customer', table=None),
        migrations.RemoveConstraint(
            model_name='customer',
            name='letters_customer_owner_email_unique',
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(models.F('owner'), django.db.models.functions.text.Lower('email'), name='customers_customer_owner_email_unique', violation_error_message='This user already has a customer with this address.'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='language',
            field=models.CharField(choices=[('en', 'English'), ('et', 'Estonian'), ('lv', 'Latvian'), ('pl', 'Polish')], default='en', help_text='The language of the invoices and letters this customer receives.', max_length=2, verbose_name='language'),
        ),
    ]
