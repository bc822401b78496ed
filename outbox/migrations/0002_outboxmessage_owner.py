"""Give each outbox message the owner of its change; its dedupe key is unique per owner.

Existing messages get the owner their dedupe key names (``welcome:<user id>``,
``receipt:<order id>``), or 0. In PostgreSQL the primary key becomes
``(owner_id, id)``, so the table can be distributed by owner.
"""

from django.db import migrations, models

from core.operations import DatabasePrimaryKey


def messages_owner_fill(apps, schema_editor):
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    Order = apps.get_model("orders", "Order")
    User = apps.get_model("accounts", "User")
    for message in OutboxMessage.objects.only("pk", "dedupe_key").iterator():
        kind, _, ident = message.dedupe_key.partition(":")
        owner = None
        if ident.isdigit() and kind == "welcome":
            owner = User.objects.filter(pk=int(ident)).values_list("pk", flat=True).first()
        elif ident.isdigit() and kind == "receipt":
            owner = (
                Order.objects.filter(pk=int(ident))
                .values_list("owner_id", flat=True)
                .first()
            )
        if owner:
            OutboxMessage.objects.filter(pk=message.pk).update(owner_id=owner)


class Migration(migrations.Migration):

    dependencies = [
        ("outbox", "0001_outbox_message"),
        ("orders", "0001_initial"),
        ("accounts", "0002_remove_welcome_email_sent_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="owner_id",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(messages_owner_fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="outboxmessage",
            name="outbox_outboxmessage_dedupe_key_uniq",
        ),
        migrations.AddConstraint(
            model_name="outboxmessage",
            constraint=models.UniqueConstraint(
                fields=("owner_id", "dedupe_key"),
                name="outbox_outboxmessage_owner_dedupe_key_uniq",
            ),
        ),
        DatabasePrimaryKey(model_name="outboxmessage", fields=["owner_id", "id"]),
    ]
