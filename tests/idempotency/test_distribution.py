"""The app as a distribution: built with ``python -m build``, installed with its
dependencies from the package index in a virtualenv that sees nothing of the
tests' environment, and run beside a minimal foreign project."""

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase

SETTINGS = """
import json
import os

SECRET_KEY = "distribution-test-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.messages",
    "django.contrib.sessions",
    "rest_framework",
    "idempotency",
    "shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "idempotency.drf.IdempotencyMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
ROOT_URLCONF = "urls"
DATABASES = {"default": json.loads(os.environ["SHOP_DATABASE"])}
# DRF's own exception handler: the app's answers carry their code anyway.
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
from threading import Event

from django.http import HttpResponse, HttpResponseRedirect
from rest_framework import status, viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response

from idempotency.drf import idempotent_view
from shop.models import Item


class ItemViewSet(viewsets.ViewSet):
    def create(self, request):
        item = Item.objects.create(name=request.data["name"])
        return Response({"id": item.pk, "name": item.name}, status=status.HTTP_201_CREATED)


@api_view(["POST"])
def moved_create(request):
    Item.objects.create(name=request.data["name"])
    return Response(status=status.HTTP_303_SEE_OTHER, headers={"Location": "/api/items/"})


# Set once the held request is inside its transaction; it answers once released.
held_entered, held_release = Event(), Event()


@api_view(["POST"])
def held_create(request):
    item = Item.objects.create(name=request.data["name"])
    held_entered.set()
    held_release.wait(timeout=30)
    return Response({"id": item.pk}, status=status.HTTP_201_CREATED)


def plain_create(request):
    Item.objects.create(name=request.POST["name"])
    return HttpResponseRedirect("/done/")


@idempotent_view
def opted_create(request):
    item = Item.objects.create(name=request.POST["name"])
    return HttpResponse(str(item.pk), status=201)
"""

URLS = """
from django.urls import path
from rest_framework.routers import SimpleRouter

from shop.views import (
    ItemViewSet,
    held_create,
    moved_create,
    opted_create,
    plain_create,
)

router = SimpleRouter()
router.register("api/items", ItemViewSet, basename="item")
urlpatterns = [
    *router.urls,
    path("api/plain/", plain_create),
    path("api/moved/", moved_create),
    path("api/held/", held_create),
    path("opted/", opted_create),
]
"""

CHECK = """
import importlib
import importlib.util
import json
import os
import pkgutil
import sys
import threading
from types import SimpleNamespace

import django

os.environ["DJANGO_SETTINGS_MODULE"] = "settings"
django.setup()

from django.contrib.admin.sites import AdminSite
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

import idempotency
import rest_framework
from idempotency.admin import IdempotencyKeyAdmin
from idempotency.checks import check_database
from idempotency.functions import idempotent
from idempotency.models import IdempotencyKey
from shop.models import Item
from shop.views import held_entered, held_release

call_command("makemigrations", "shop", verbosity=0)
call_command("migrate", verbosity=0)


def post(key, name, path="/api/items/", format="json"):
    headers = {"Idempotency-Key": key} if key else {}
    return APIClient().post(path, {"name": name}, format=format, headers=headers)


def answer(response):
    return [response.status_code, response.headers.get("Idempotent-Replayed")]


def rows(name):
    return Item.objects.filter(name=name).count()


out = {
    "django": django.get_version(),
    "modules": [idempotency.__file__, rest_framework.__file__, django.__file__],
    "celery": importlib.util.find_spec("celery") is not None,
}
if sys.argv[1:] == ["race"]:
    barrier, statuses = threading.Barrier(8), []

    def race():
        barrier.wait()
        try:
            statuses.append(post("race", "r").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["race"], out["race_rows"] = sorted(statuses), rows("r")
    print(json.dumps(out))
    sys.exit()
if sys.argv[1:] == ["in-flight"]:
    first = []

    def hold():
        try:
            first.append(answer(post("h", "h", path="/api/held/")))
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    out["entered"] = held_entered.wait(timeout=30)
    with override_settings(IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 0.2}):
        busy = post("h", "h", path="/api/held/")
    held_release.set()
    thread.join()
    out["busy"] = [busy.status_code, busy.json(), busy.headers.get("Retry-After")]
    out["held"] = [*first, answer(post("h", "h", path="/api/held/"))]
    out["held_rows"] = rows("h")
    print(json.dumps(out))
    sys.exit()

call_command("check", fail_level="WARNING")
# Every module of the app imports with what the wheel declares, Celery
# absent; the schema class needs the "schema" extra, the admin Django's admin,
# the purge task the "celery" extra.
for module in pkgutil.walk_packages(idempotency.__path__, "idempotency."):
    if module.name not in ("idempotency.schema", "idempotency.admin", "idempotency.tasks"):
        importlib.import_module(module.name)
# Without Celery the admin offers no purge to hand to a worker.
staff = SimpleNamespace(is_active=True, is_staff=True, has_perm=lambda *_: True)
request = RequestFactory().get("/")
request.user = staff
key_admin = IdempotencyKeyAdmin(IdempotencyKey, AdminSite())
out["admin_actions"] = sorted(key_admin.get_actions(request))
out["first"], out["again"] = answer(post("k", "a")), answer(post("k", "a"))
other = post("k", "b")
out["other"], out["rows"] = [other.status_code, other.json()], rows("a")
plain = post("p", "p", path="/api/plain/", format="multipart")
out["plain"] = [plain.status_code, rows("p")]
moved = [post("m", "m", path="/api/moved/") for _ in "12"]
out["moved"] = [[*answer(r), r.headers.get("Location")] for r in moved]
out["moved_rows"] = rows("m")
out["moved_key"] = IdempotencyKey.objects.filter(key="m").exists()
out["opted"] = [answer(post("o", "o", path="/opted/", format="multipart")) for _ in "12"]
out["opted_rows"] = rows("o")


@idempotent(key="double-{n}")
def double(n):
    Item.objects.create(name="f")
    return n * 2


out["function"] = [double(n=3), double(n=3), rows("f")]
if connection.vendor == "sqlite":
    options = connection.settings_dict["OPTIONS"]
    mode = options.pop("transaction_mode")
    out["w005"] = [message.id for message in check_database()]
    options["transaction_mode"] = mode
print(json.dumps(out))
"""

# Virtualenvs with the wheel's dependencies, one per Django version and set
# of requirements, kept between runs.
CACHE = Path(tempfile.gettempdir()) / "idem-distribution-venvs"
# The project's own driver, installed beside the wheel for the PostgreSQL run.
DRIVER = re.search(
    r"^(psycopg\[\S+)", (settings.BASE_DIR / "requirements.txt").read_text(), re.M
).group(1)


def clean_env():
    """Return the environment without what points into the tests' environment."""
    hidden = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in hidden}


def run(*args, **kwargs):
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )
    if done.returncode != 0:
        raise AssertionError(f"{args} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def newest_django():
    """Return the newest Django for this Python on the index, or None if unreachable."""
    try:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "index", "versions", "Django"),
                *("--retries", "1", "--timeout", "20"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return None
    match = re.search(r"^Django \(([^)]+)\)", done.stdout, re.M)
    return match.group(1) if done.returncode == 0 and match else None


def requires_dist(wheel):
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    return metadata, sorted(re.findall(r"^Requires-Dist: (.+)$", metadata, re.M))


class DistributionTests(TransactionTestCase):
    @classmethod
    def setUpClass(cls):
        # Done before Django's class set-up, which a skip would leave half done.
        newest = newest_django()
        if newest is None:
            raise unittest.SkipTest("the package index is unreachable")
        pinned = re.search(
            r"^Django==(\S+)",
            (settings.BASE_DIR / "requirements.txt").read_text(),
            re.M,
        ).group(1)
        cls.versions = sorted({pinned, newest})
        cls.folder = tempfile.TemporaryDirectory()
        cls.dist = Path(cls.folder.name) / "dist"
        run(sys.executable, "-m", "build", "--outdir", cls.dist, settings.BASE_DIR)
        [cls.wheel] = cls.dist.glob("idem_idempotency-*.whl")
        [cls.sdist] = cls.dist.glob("idem_idempotency-*.tar.gz")
        cls.metadata, requires = requires_dist(cls.wheel)
        CACHE.mkdir(exist_ok=True)
        cls.locks, cls.pythons = [], {}
        for version in cls.versions:
            cls.pythons[version] = cls.venv(version, requires)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for lock in cls.locks:
            lock.close()
        cls.folder.cleanup()

    @classmethod
    def venv(cls, version, requires):
        """Return the python of a virtualenv with the wheel and Django ``version``."""
        wanted = [f"Django=={version}", DRIVER]
        digest = hashlib.sha256(
            json.dumps([sys.version, wanted, requires]).encode()
        ).hexdigest()[:12]
        venv = CACHE / f"django-{version}-{digest}"
        # Held until the class is done: another run waits rather than
        # reinstall the wheel under this one's feet.
        lock = open(f"{venv}.lock", "w")  # noqa: SIM115
        cls.locks.append(lock)
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = venv / "bin" / "python"
        if not (venv / "ready").exists():
            run(sys.executable, "-m", "venv", "--clear", venv, env=clean_env())
        run(python, "-m", "pip", "uninstall", "-y", "idem-idempotency", env=clean_env())
        run(python, "-m", "pip", "install", cls.wheel, *wanted, env=clean_env())
        (venv / "ready").touch()
        return python

    def database(self, root):
        """Return the minimal project's DATABASES entry, on the tests' server."""
        if connection.vendor != "postgresql":
            return {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(root / "shop.sqlite3"),
                "OPTIONS": {"transaction_mode": "IMMEDIATE"},
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

    def run_project(self, version, *args):
        """Run the minimal project's script on the virtualenv of ``version``."""
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        project = Path(folder.name)
        (project / "shop").mkdir()
        for path, text in [
            ("settings.py", SETTINGS),
            ("urls.py", URLS),
            ("check.py", CHECK),
            ("shop/__init__.py", ""),
            ("shop/models.py", MODELS),
            ("shop/views.py", VIEWS),
        ]:
            (project / path).write_text(text)
        env = {**clean_env(), "SHOP_DATABASE": json.dumps(self.database(project))}
        python = self.pythons[version]
        output = run(python, "check.py", *args, cwd=project, env=env)
        out = json.loads(output.splitlines()[-1])
        self.assertEqual(out["django"], version)
        for module in out["modules"]:
            self.assertTrue(module.startswith(str(python.parent.parent)), module)
        self.assertFalse(out["celery"])
        return output, out

    def test_the_build_gives_an_sdist_and_a_wheel_of_the_app_alone(self):
        with zipfile.ZipFile(self.wheel) as archive:
            tops = {name.split("/")[0] for name in archive.namelist()}
        self.assertEqual(tops, {"idempotency", "idem_idempotency-1.0.0.dist-info"})
        with tarfile.open(self.sdist) as archive:
            packages = {
                name.split("/")[1]
                for name in archive.getnames()
                if name.endswith(".py")
            }
        self.assertEqual(packages, {"idempotency"})
        self.assertIn('Requires-Dist: celery>=5.3; extra == "celery"', self.metadata)
        # The README links no page the wheel does not ship.
        self.assertNotRegex(self.metadata, r"\]\(")

    def test_the_wheel_serves_a_minimal_project(self):
        for version in self.versions:
            with self.subTest(django=version):
                output, out = self.run_project(version)
                self.assertIn("System check identified no issues", output)
                self.assertEqual(out["first"], [201, None])
                self.assertEqual(out["again"], [200, "true"])
                self.assertEqual(out["other"][0], 422)
                self.assertEqual(out["other"][1]["code"], "idempotency_key_mismatch")
                self.assertEqual(out["rows"], 1)
                # A plain Django view under /api/ keeps its write and redirect.
                self.assertEqual(out["plain"], [302, 1])
                self.assertEqual(out["admin_actions"], ["release_keys"])
                # A DRF view under /api/ that redirects keeps its write and
                # releases the key: the retry runs again, it is no replay.
                self.assertEqual(out["moved"], [[303, None, "/api/items/"]] * 2)
                self.assertEqual(out["moved_rows"], 2)
                self.assertFalse(out["moved_key"])
                self.assertEqual(out["opted"], [[201, None], [200, "true"]])
                self.assertEqual(out["opted_rows"], 1)
                self.assertEqual(out["function"], [6, 6, 1])
                if connection.vendor == "sqlite":
                    self.assertEqual(out["w005"], ["idempotency.W005"])

    @unittest.skipIf(
        connection.vendor == "sqlite",
        "needs PostgreSQL: SQLite serialises writers, so there is no race to test",
    )
    def test_concurrent_keyed_creates_make_one_row(self):
        for version in self.versions:
            with self.subTest(django=version):
                _, out = self.run_project(version, "race")
                self.assertEqual(out["race"].count(201), 1, out["race"])
                self.assertTrue(set(out["race"]) <= {200, 201, 409}, out["race"])
                self.assertEqual(out["race_rows"], 1)

    @unittest.skipIf(
        connection.vendor == "sqlite",
        "needs PostgreSQL: SQLite serialises writers, so a duplicate waits for "
        "the first to commit and is never found in flight",
    )
    def test_an_in_flight_duplicate_is_409_with_its_code_under_drfs_handler(self):
        for version in self.versions:
            with self.subTest(django=version):
                _, out = self.run_project(version, "in-flight")
                self.assertTrue(out["entered"])
                status, body, retry_after = out["busy"]
                self.assertEqual(status, 409)
                self.assertEqual(body["code"], "idempotency_key_in_use")
                self.assertEqual(retry_after, "1")
                # The first answers once released; its retry is the replay.
                self.assertEqual(out["held"], [[201, None], [200, "true"]])
                self.assertEqual(out["held_rows"], 1)
