"""Worker hosts: Celery workers in network namespaces of their own, one broker, one database.

Each host is a network namespace joined to the root namespace by a veth
pair (10.77.21.0/24, a /30 per host). PostgreSQL, RabbitMQ and the SMTP
server listen on 127.0.0.1 only, so the test runs a TCP forwarder for each
on the host's root-side address; nothing of their configuration changes.
"""

import shutil
import subprocess
import unittest
import uuid

from celery import current_app
from django.db import connection
from django.test import TransactionTestCase

from outbox.models import OutboxMessage
from tests.concurrency import needs_postgresql
from tests.forwarder import Forwarder
from tests.outbox.smtp import SmtpServer
from tests.servers import wait_for
from tests.workers import RABBITMQ_HOST, Broker, CeleryWorker, needs_rabbitmq

NETWORK = "10.77.21"


def _ip(*args, check=True):
    return subprocess.run(
        ["ip", *args], check=check, capture_output=True, text=True, timeout=30
    )


def netns_available():
    """Return whether this process may make network namespaces (root, iproute2)."""
    if shutil.which("ip") is None:
        return False
    probe = f"idem-probe-{uuid.uuid4().hex[:6]}"
    if _ip("netns", "add", probe, check=False).returncode != 0:
        return False
    _ip("netns", "del", probe, check=False)
    return True


class Host:
    """A network namespace with a veth pair to the root namespace, and forwarders."""

    def __init__(self, number, targets):
        tag = uuid.uuid4().hex[:6]
        self.namespace = f"idem-host-{tag}"
        self.outside, inside = f"vi{tag}o", f"vi{tag}i"
        self.gateway = f"{NETWORK}.{4 * number + 1}"
        self.address = f"{NETWORK}.{4 * number + 2}"
        _ip("netns", "add", self.namespace)
        _ip("link", "add", self.outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", self.namespace)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.outside)
        _ip("link", "set", self.outside, "up")
        inner = ["netns", "exec", self.namespace, "ip"]
        _ip(*inner, "addr", "add", f"{self.address}/30", "dev", inside)
        _ip(*inner, "link", "set", inside, "up")
        _ip(*inner, "link", "set", "lo", "up")
        self.forwarders = {
            name: Forwarder(target, listen_host=self.gateway)
            for name, target in targets.items()
        }

    def port(self, name):
        return self.forwarders[name].port

    def wrapper(self):
        return ["ip", "netns", "exec", self.namespace]

    def delete(self):
        for forwarder in self.forwarders.values():
            forwarder.close()
        _ip("netns", "del", self.namespace, check=False)
        _ip("link", "del", self.outside, check=False)


@unittest.skipUnless(netns_available(), "needs `ip netns` (root and iproute2)")
@needs_rabbitmq
@needs_postgresql
class WorkerHostsTests(TransactionTestCase):
    def setUp(self):
        self.broker = Broker()
        self.addCleanup(self.broker.delete)
        self.smtp = SmtpServer(hold_first=True).__enter__()
        self.addCleanup(self.smtp.__exit__)
        db = connection.settings_dict
        rabbit_host, rabbit_port = RABBITMQ_HOST.split(":")
        self.targets = {
            "postgresql": (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)),
            "rabbitmq": (rabbit_host, int(rabbit_port)),
            "smtp": ("127.0.0.1", self.smtp.port),
        }
        self.hosts = []

    def tearDown(self):
        for host in self.hosts:
            host.delete()

    def start_host(self, number, *, concurrency=2):
        host = Host(number, self.targets)
        self.hosts.append(host)
        db = connection.settings_dict
        vhost = self.broker.url.rsplit("/", 1)[1]
        env = {
            "DATABASE_URL": f"postgres://{db['USER']}@{host.gateway}:"
            f"{host.port('postgresql')}/{db['NAME']}",
            **self.smtp.env(),
            "EMAIL_HOST": host.gateway,
            "EMAIL_PORT": str(host.port("smtp")),
            "OUTBOX_LEASE": "3",
        }
        url = f"amqp://guest:guest@{host.gateway}:{host.port('rabbitmq')}/{vhost}"
        worker = CeleryWorker(
            url, env=env, concurrency=concurrency, wrapper=host.wrapper()
        )
        self.addCleanup(worker.stop)
        return worker

    def hand_over(self, key):
        with self.broker.connection() as conn:
            current_app.send_task("outbox.deliver", args=[key], connection=conn)

    def test_a_host_killed_mid_delivery_leaves_every_mail_sent_once(self):
        payload = {"to": ["ada@example.com"], "subject": "Welcome", "body": "Hi"}
        keys = [f"welcome:host:{n}" for n in range(30)]
        for key in keys:
            OutboxMessage.objects.create(
                topic="mail.welcome", payload=payload, dedupe_key=key
            )
        # One process, held in the first mail's DATA when it is killed: a
        # second one could be killed between another mail's 250 and its
        # record, the documented window for a duplicate (docs/outbox.md).
        first = self.start_host(0, concurrency=1).wait_until_ready(timeout=90)
        self.hand_over(keys[0])
        wait_for(self.smtp.holding.is_set, timeout=60, what="the first mail held")
        second = self.start_host(1).wait_until_ready(timeout=90)
        for key in keys[1:]:
            self.hand_over(key)
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").count() >= 5,
            timeout=60,
            what=f"mails sent by the second host\n{second.output()}",
        )
        first.kill()
        self.smtp.release()
        wait_for(
            lambda: OutboxMessage.objects.filter(state="done").count() == len(keys),
            timeout=120,
            what=f"every mail sent\n{second.output()}",
        )
        accepted = [m["Message-ID"] for m in self.smtp.accepted]
        self.assertEqual(len(accepted), len(keys))
        self.assertEqual(len(set(accepted)), len(keys))
        self.assertIn(self.smtp.attempts[0], accepted)
        self.assertIn("ready.", first.output(tail=10**6))
