import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from tests.servers import free_port, wait_for


class RunserverLogTests(SimpleTestCase):
    """runserver prints each log line once."""

    def test_a_not_found_is_logged_once(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        port = free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{Path(folder.name) / 'db.sqlite3'}",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                f"127.0.0.1:{port}",
                "--noreload",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addCleanup(server.kill)

        def not_found():
            if server.poll() is not None:
                raise AssertionError(server.stdout.read())
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/no-such-page", timeout=2
                )
            except urllib.error.HTTPError as error:
                return error.code == 404
            except OSError:
                return False
            return False

        wait_for(not_found, what="runserver answering")
        server.terminate()
        output = server.communicate(timeout=10)[0]
        self.assertEqual(output.count("Not Found: /no-such-page"), 1, output)
