"""Delete stored photo files that no photo refers to."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from uploads.services import photo_orphan_files_delete


class Command(BaseCommand):
    """Delete photo files left behind by rolled-back uploads or deleted photos."""

    help = "Delete stored photo files that no photo refers to, older than --min-age seconds."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-age",
            type=int,
            default=3600,
            help="only files older than this many seconds (default 3600)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count the files, delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = photo_orphan_files_delete(
            older_than=timedelta(seconds=options["min_age"]),
            dry_run=options["dry_run"],
        )
        verb = "Would delete" if options["dry_run"] else "Deleted"
        self.stdout.write(f"{verb} {count} orphan photo file(s).")
