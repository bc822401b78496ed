"""Time the outbox's hand-over after the commit: RabbitMQ, a closed port, the filesystem.

Usage: python bench/outbox_handover.py [COUNT]. Needs RabbitMQ on 127.0.0.1:5672
with rabbitmqctl; uses a virtual host of its own and deletes it.
"""

import os
import subprocess
import sys
import tempfile
import uuid

SCRIPT = """
import logging, statistics, sys, time
import django
django.setup()
logging.disable(logging.WARNING)
from outbox.services import message_hand_over
times, taken = [], 0
for n in range(int(sys.argv[1])):
    start = time.perf_counter()
    taken += message_hand_over(dedupe_key=f"bench:{n}", topic="mail.bench")
    times.append(time.perf_counter() - start)
print(f"{taken} taken, median {statistics.median(times) * 1000:.1f} ms, "
      f"max {max(times) * 1000:.1f} ms")
"""


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True)


def main() -> None:
    count = sys.argv[1] if len(sys.argv) > 1 else "50"
    vhost = f"idem-bench-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    brokers = {
        "RabbitMQ": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "closed port": "amqp://guest:guest@127.0.0.1:1//",
        "filesystem": "filesystem://",
    }
    try:
        with tempfile.TemporaryDirectory() as var_dir:
            for name, url in brokers.items():
                env = {
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "idem_project.settings",
                    "CELERY_BROKER_URL": url,
                    "VAR_DIR": var_dir,
                }
                result = subprocess.run(
                    [sys.executable, "-c", SCRIPT, count],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                print(f"{name:12} {result.stdout.strip()}")
    finally:
        rabbitmqctl("delete_vhost", vhost)


if __name__ == "__main__":
    main()
