# Mass mailing no longer knows invoices: a job names the kind of its documents, and a row the
# id and label of its document. Existing rows were invoices: their ids and labels are copied.

from django.db import migrations, models


def invoice_rows_copy(apps, schema_editor):
    """Give every existing row its invoice's id and a label, in two statements."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("UPDATE mailer_outgoingmail SET document_id = invoice_id")
        # A correlated subquery and SUBSTR: the same SQL on PostgreSQL and SQLite.
        cursor.execute(
            "UPDATE mailer_outgoingmail SET document_label = COALESCE(("
            "SELECT SUBSTR('Invoice ' || i.number || CASE WHEN i.customer_name <> '' "
            "THEN ', ' || i.customer_name ELSE '' END, 1, 200) "
            "FROM invoices_invoice i WHERE i.id = mailer_outgoingmail.invoice_id), '')"
        )


def invoice_rows_copy_back(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("UPDATE mailer_outgoingmail SET invoice_id = document_id")


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0001_initial'),
        ('massmail', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='massmailjob',
            name='document_kind',
            field=models.CharField(default='invoice', max_length=30),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='outgoingmail',
            name='document_id',
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name='outgoingmail',
            name='document_label',
            field=models.CharField(blank=True, max_length=200, default=''),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='outgoingmail',
            name='invoice',
            field=models.ForeignKey(null=True, on_delete=models.deletion.CASCADE, related_name='outgoing_mails', to='invoices.invoice'),
        ),
        migrations.RunPython(invoice_rows_copy, invoice_rows_copy_back),
    ]
