# Events keep the parameters of their cause's message, so the text is made when shown
# (issue 11, "One error model"). Old rows keep an empty mapping and show their stored message.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="mailevent",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
