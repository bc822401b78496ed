"""Put ``id`` first in the primary key of photos, and drop the index on the owner alone.

``(id, owner_id)`` still holds the distribution column and serves a lookup
by ``id`` alone; the unique ``(owner_id, filename)`` serves an owner's photos.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.operations import DatabasePrimaryKey


class Migration(migrations.Migration):

    dependencies = [
        ("uploads", "0002_photo_owner_primary_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="photo",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="photos",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        DatabasePrimaryKey(
            model_name="photo", fields=["id", "owner"], previous=["owner", "id"]
        ),
    ]
