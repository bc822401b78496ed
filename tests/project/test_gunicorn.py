import re
import tempfile
import urllib.request
from pathlib import Path

from django.test import SimpleTestCase

from tests.servers import Gunicorn


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  loopback only
        return response.status, response.read().decode(errors="replace")


class GunicornStaticFilesTests(SimpleTestCase):
    """Under gunicorn with DEBUG=0, the project serves every page's assets itself."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        folder = tempfile.TemporaryDirectory()
        cls.addClassCleanup(folder.cleanup)
        database = Path(folder.name) / "db.sqlite3"
        cls.server = Gunicorn(workers=2, env={"DATABASE_URL": f"sqlite:///{database}"})
        cls.addClassCleanup(cls.server.stop)
        cls.server.wait_until_ready()

    def assert_assets_served(self, page):
        status, html = fetch(self.server.url(page))
        self.assertEqual(status, 200)
        assets = [
            asset
            for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
            if not asset.endswith("/")
        ]
        self.assertTrue(assets, page)
        for asset in assets:
            with self.subTest(page=page, asset=asset):
                self.assertEqual(fetch(self.server.url(asset))[0], 200)

    def test_swagger_ui_assets(self):
        self.assert_assets_served("/api/docs/")

    def test_admin_assets(self):
        self.assert_assets_served("/admin/login/")

    def test_browsable_api_assets(self):
        self.assert_assets_served("/api/?format=api")
