import re
import tempfile
import urllib.request
from pathlib import Path

from django.test import SimpleTestCase, override_settings

from idem_project.middleware import StaticFilesMiddleware
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
        # A STATIC_ROOT that collectstatic never filled, as in a fresh clone.
        env = {
            "DATABASE_URL": f"sqlite:///{database}",
            "STATIC_ROOT": str(Path(folder.name) / "staticfiles"),
        }
        cls.server = Gunicorn(workers=2, env=env)
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

    def test_workers_do_not_warn_about_a_missing_static_root(self):
        self.assertNotIn("No directory at", self.server.output())

    def test_swagger_ui_assets(self):
        self.assert_assets_served("/api/docs/")

    def test_admin_assets(self):
        self.assert_assets_served("/admin/login/")

    def test_browsable_api_assets(self):
        self.assert_assets_served("/api/?format=api")


class CollectedStaticFilesTests(SimpleTestCase):
    """Once collectstatic has filled STATIC_ROOT, its files are served too."""

    def test_a_collected_file_is_served(self):
        with tempfile.TemporaryDirectory() as root:
            (Path(root) / "collected.txt").write_text("collected")
            with override_settings(
                STATIC_ROOT=Path(root), WHITENOISE_AUTOREFRESH=False
            ):
                middleware = StaticFilesMiddleware(lambda request: None)
        self.assertIn("/static/collected.txt", middleware.files)
