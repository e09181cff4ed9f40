# Every existing invoice gets its owner's customer of its address: found by the address in any
# letter case (as the customers' unique rule compares it), else made from the invoice's name
# and language. Invoices with a missing or bad address keep no customer: they still exist and
# fail only when mailed. Backwards, the links go; the customers stay (they may have letters).

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import migrations
from django.db.models.functions import Lower

LANGUAGES = ("en", "et", "lv", "pl")
BATCH = 2000


def _usable(address):
    if not address or any(char in address for char in "\r\n\x00,; "):
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def invoices_link(apps, schema_editor):
    Invoice = apps.get_model("invoices", "Invoice")
    Customer = apps.get_model("customers", "Customer")
    # The newest invoice of an address names a customer that has to be made.
    wanted = {}
    invoices = (
        Invoice.objects.filter(customer__isnull=True)
        .order_by("-issue_date", "-pk")
        .values_list("pk", "owner_id", "customer_name", "customer_email", "language")
    )
    ids_of = {}
    for pk, owner_id, name, email, language in invoices.iterator(chunk_size=BATCH):
        address = (email or "").strip()
        if not _usable(address):
            continue
        key = (owner_id, address.lower())
        wanted.setdefault(key, (name, address, language))
        ids_of.setdefault(key, []).append(pk)
    if not wanted:
        return
    owners = {owner_id for owner_id, _address in wanted}
    found = {
        (customer.owner_id, customer.address): customer.pk
        for customer in Customer.objects.filter(owner_id__in=owners).annotate(
            address=Lower("email")
        )
    }
    missing = [
        Customer(
            owner_id=owner_id,
            name=(name or address)[:200],
            email=address,
            language=language if language in LANGUAGES else "en",
        )
        for (owner_id, key), (name, address, language) in wanted.items()
        if (owner_id, key) not in found
    ]
    for customer in Customer.objects.bulk_create(missing, batch_size=BATCH):
        found[(customer.owner_id, customer.email.lower())] = customer.pk
    for key, ids in ids_of.items():
        for start in range(0, len(ids), BATCH):
            Invoice.objects.filter(pk__in=ids[start : start + BATCH]).update(
                customer_id=found[key]
            )


def invoices_unlink(apps, schema_editor):
    apps.get_model("invoices", "Invoice").objects.update(customer=None)


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_customer_table'),
        ('invoices', '0004_invoice_customer'),
    ]

    operations = [
        migrations.RunPython(invoices_link, invoices_unlink),
    ]
