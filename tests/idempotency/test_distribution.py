"""The app as a distribution: built from distribution/, installed beside a minimal project."""

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

SETTINGS = """
import os

SECRET_KEY = "distribution-test-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "idempotency",
    "shop",
]
MIDDLEWARE = ["idempotency.drf.IdempotencyMiddleware"]
ROOT_URLCONF = "urls"
DATABASES = {"default": json.loads(os.environ["SHOP_DATABASE"])}
REST_FRAMEWORK = {
    "DEFAULT_THROTTLE_CLASSES": ["idempotency.drf.IdempotencyGate"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
"""

MODELS = """
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name
"""

VIEWS = """
from rest_framework import status, viewsets
from rest_framework.response import Response

from shop.models import Item


class ItemViewSet(viewsets.ViewSet):
    def create(self, request):
        item = Item.objects.create(name=request.data["name"])
        return Response({"id": item.pk, "name": item.name}, status=status.HTTP_201_CREATED)
"""

URLS = """
from rest_framework.routers import SimpleRouter

from shop.views import ItemViewSet

router = SimpleRouter()
router.register("api/items", ItemViewSet, basename="item")
urlpatterns = router.urls
"""

CHECK = """
import json
import os
import threading

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
django.setup()

from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

import idempotency
from shop.models import Item

call_command("makemigrations", "shop", verbosity=0)
call_command("migrate", verbosity=0)
call_command("check", fail_level="WARNING")


def post(key, name):
    response = APIClient().post(
        "/api/items/", {"name": name}, format="json", headers={"Idempotency-Key": key}
    )
    return [response.status_code, response.headers.get("Idempotent-Replayed")]


out = {"module": idempotency.__file__}
out["first"], out["again"], out["other"] = post("k", "a"), post("k", "a"), post("k", "b")
out["rows"] = Item.objects.filter(name="a").count()
if connection.vendor == "postgresql":
    barrier, statuses = threading.Barrier(8), []

    def race():
        barrier.wait()
        try:
            statuses.append(post("race", "r")[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["race"] = sorted(statuses)
    out["race_rows"] = Item.objects.filter(name="r").count()
print(json.dumps(out))
"""


def run(*args, **kwargs):
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{args} failed:\\n{done.stdout}\\n{done.stderr}")
    return done.stdout


class DistributionTests(TransactionTestCase):
    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.root = Path(folder.name)

    def database(self):
        """Return the minimal project's DATABASES entry, on the tests' server."""
        if connection.vendor != "postgresql":
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(self.root / "shop.sqlite3"),
            }
        name = f"{connection.settings_dict['NAME']}_shop"
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')

        def drop():
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        self.addCleanup(drop)
        db = connection.settings_dict
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            **{key: db[key] for key in ("USER", "PASSWORD", "HOST", "PORT")},
        }

    def install(self):
        """Build the wheel, install it in a fresh virtualenv; return its python."""
        run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "-w",
            str(self.root / "dist"),
            str(settings.BASE_DIR / "distribution"),
        )
        [wheel] = (self.root / "dist").glob("idem_idempotency-*.whl")
        venv = self.root / "venv"
        run(sys.executable, "-m", "venv", "--without-pip", str(venv))
        python = venv / "bin" / "python"
        purelib = run(
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ).strip()
        # Django, DRF and the drivers come from the tests' environment, not the network.
        Path(purelib, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
        run(
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        )
        return python, Path(purelib)

    def write_project(self):
        project = self.root / "project"
        (project / "shop").mkdir(parents=True)
        (project / "settings.py").write_text("import json\n" + SETTINGS)
        (project / "urls.py").write_text(URLS)
        (project / "check.py").write_text(CHECK)
        (project / "shop" / "__init__.py").write_text("")
        (project / "shop" / "models.py").write_text(MODELS)
        (project / "shop" / "views.py").write_text(VIEWS)
        return project

    def test_the_wheel_serves_a_minimal_project(self):
        python, purelib = self.install()
        project = self.write_project()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
        }
        env["SHOP_DATABASE"] = json.dumps(self.database())
        output = run(str(python), "check.py", cwd=project, env=env)
        self.assertIn("System check identified no issues", output)
        out = json.loads(output.splitlines()[-1])
        self.assertTrue(out["module"].startswith(str(purelib)), out["module"])
        self.assertEqual(out["first"], [201, None])
        self.assertEqual(out["again"], [200, "true"])
        self.assertEqual(out["other"][0], 422)
        self.assertEqual(out["rows"], 1)
        if connection.vendor == "postgresql":
            self.assertEqual(out["race"].count(201), 1, out["race"])
            self.assertTrue(set(out["race"]) <= {200, 201, 409}, out["race"])
            self.assertEqual(out["race_rows"], 1)
