"""``make run``: the Procfile's three processes on one machine, with no broker server."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

from tests.servers import free_port, wait_for


def process_group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class ProcfileTests(SimpleTestCase):
    def test_web_worker_and_scheduler_send_the_welcome_mail_and_ctrl_c_stops_them(self):
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"CELERY_BROKER_URL", "DATABASE_URL", "DATABASE_TEST_NAME"}
        }
        env.update(
            {
                "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",
                "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
                "VAR_DIR": str(tmp / "var"),
                "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "EMAIL_FILE_PATH": str(tmp / "mail"),
            }
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=env,
            check=True,
            timeout=300,
        )
        port = free_port()
        log = self.enterContext(tempfile.TemporaryFile())
        honcho = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "honcho",
                "start",
                "-f",
                "Procfile",
                "-p",
                str(port),
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def output():
            log.seek(0)
            return log.read().decode(errors="replace")

        def stop():
            if honcho.poll() is None:
                os.killpg(honcho.pid, signal.SIGKILL)
                honcho.wait()

        self.addCleanup(stop)

        def answers():
            if honcho.poll() is not None:
                raise AssertionError(f"honcho exited:\n{output()}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/", timeout=2
                ) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(answers, timeout=120, what="the web process answering")
        wait_for(lambda: " ready." in output(), timeout=120, what="the worker ready")
        body = {"email": "ada@example.com", "name": "Ada", "password": "correct horse"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/users/",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            self.assertEqual(response.status, 201)

        def welcome_written():
            folder = tmp / "mail"
            files = sorted(folder.iterdir()) if folder.exists() else []
            # The file backend creates the file before it writes the mail.
            return files and "Subject: Welcome to Idem" in files[0].read_text()

        wait_for(welcome_written, timeout=120, what=f"the welcome mail\n{output()}")
        self.assertEqual(len(list((tmp / "mail").iterdir())), 1)
        self.assertIn("beat: Starting", output())

        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(honcho.pid, signal.SIGINT)
        honcho.wait(timeout=60)
        wait_for(
            lambda: not process_group_alive(honcho.pid),
            timeout=30,
            what=f"every process stopped\n{output()}",
        )
