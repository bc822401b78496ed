"""``make run``: the Procfile's three processes on one machine, with no broker server."""

import functools
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

from tests.observability.helpers import sample_value
from tests.servers import children_of, free_port, wait_for


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not reaped yet is gone too.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def descendants(pid):
    found = children_of(pid)
    for child in list(found):
        found += descendants(child)
    return found


class ProcfileTests(SimpleTestCase):
    def test_web_worker_and_scheduler_send_the_welcome_mail_and_ctrl_c_stops_them(self):
        """The web's /metrics counts the worker's mail with no metrics setting."""
        tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        env = {
            key: value
            for key, value in os.environ.items()
            if key
            not in {
                "CELERY_BROKER_URL",
                "DATABASE_URL",
                "DATABASE_TEST_NAME",
                "PROMETHEUS_MULTIPROC_DIR",
            }
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
        port = free_port()
        log = self.enterContext(tempfile.TemporaryFile())
        # make run itself, as typed, on a free port and with this virtualenv;
        # -o: the virtualenv is not reinstalled first.
        venv = Path(sys.prefix)
        make = subprocess.Popen(
            [
                *("make", "--no-print-directory", "-o", venv / ".installed", "run"),
                *(f"VENV={venv}", f"RUN_PORT={port}"),
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A terminal's foreground group, where Ctrl-C is not ignored.
            start_new_session=True,
            preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL),
        )

        def output():
            log.seek(0)
            return log.read().decode(errors="replace")

        # honcho starts each process in a session of its own.
        started = []

        def stop():
            for pid in [make.pid, *started]:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
            make.wait()

        self.addCleanup(stop)

        def answers():
            if make.poll() is not None:
                raise AssertionError(f"make run exited:\n{output()}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/", timeout=2
                ) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(answers, timeout=120, what="the web process answering")
        wait_for(lambda: " ready." in output(), timeout=120, what="the worker ready")
        started += descendants(make.pid)
        self.assertGreaterEqual(len(started), 3, "web, worker and scheduler")
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

        def sent_in_the_webs_metrics():
            # The worker counts the mail; the web's /metrics shows it.
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            labels = {"topic": "mail.welcome", "outcome": "sent"}
            return sample_value(text, "outbox_messages_total", **labels) == 1

        wait_for(sent_in_the_webs_metrics, timeout=30, what="the sent mail counted")
        self.assertTrue((tmp / "var" / "metrics").is_dir())
        self.assertIn("beat: Starting", output())

        # Ctrl-C in a terminal signals the foreground process group: make's,
        # honcho's. make, its recipe done, ends by the same signal, silently.
        os.killpg(make.pid, signal.SIGINT)
        self.assertEqual(make.wait(timeout=60), -signal.SIGINT)
        wait_for(
            lambda: not any(alive(pid) for pid in started),
            timeout=30,
            what=f"every process stopped\n{output()}",
        )
        # The worker finished its warm shutdown by itself, never SIGKILLed,
        # and no process logged an error on the way out.
        self.assertNotIn("SIGKILL", output())
        self.assertNotIn("ERROR", output())
        self.assertNotIn("Traceback", output())
        # Neither "Error 130" (honcho's status) nor "Interrupt" (a shell's death).
        self.assertNotIn("make: ***", output())
        # One events relay, in the worker, stopped with it; none in the
        # webhooks worker and no process of its own.
        self.assertEqual(output().count("Events relay started"), 1, output())
        self.assertIn("Events relay stopped.", output())
