"""WhiteNoise as the project runs it: collected files when there are any."""

import os
from pathlib import Path

from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serve ``STATIC_ROOT`` once ``collectstatic`` has made it, else the apps' files.

    The apps' files are always found (``WHITENOISE_USE_FINDERS``), so a server
    started without ``collectstatic`` has every asset; WhiteNoise would still
    warn "No directory at: STATIC_ROOT" from every worker process.

    Sync-only, as WhiteNoise's is, and said so here because the settings
    rely on it: under ASGI, every middleware listed above it runs in sync
    mode, with no thread hop of its own.
    """

    sync_capable = True
    async_capable = False

    def add_files(self, root: str | Path, prefix: str | None = None) -> None:
        if root is self.static_root and not os.path.isdir(root):
            return
        super().add_files(root, prefix=prefix)
