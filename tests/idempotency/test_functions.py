import threading
import uuid

from django.db import connection
from django.test import TestCase, TransactionTestCase, override_settings

from idempotency.exceptions import KeyInUse, KeyMismatch
from idempotency.functions import idempotent
from idempotency.models import IdempotencyKey
from tests.concurrency import needs_postgresql, run_together
from tests.statements import statements_of
from webhooks.models import WebhookEvent

runs = []


def note(event_id, kind="note"):
    """The effect under test: one row, and one entry in ``runs``."""
    runs.append(event_id)
    event = WebhookEvent.objects.create(
        event_id=f"{event_id}-{len(runs)}", type=kind, payload={}
    )
    return {"row": event.pk, "pair": (1, 2)}


@idempotent(key="note-{event_id}")
def note_once(event_id, kind="note"):
    return note(event_id, kind)


@idempotent(key=lambda message: message["id"], scope="messages")
def message_apply(message):
    runs.append(message["id"])
    if message.get("fail"):
        raise ValueError("the function failed")
    return message["id"]


@idempotent(key="{event_id}", scope="owned", owner=lambda event_id, owner_id: owner_id)
def note_for(event_id, owner_id):
    return note(event_id)


@idempotent(key="short-{event_id}", ttl_seconds=60)
def note_for_a_minute(event_id):
    return note(event_id)


@idempotent(key="{name}")
def unencodable(name):
    note(name)
    return object()


def rows(event_id):
    return WebhookEvent.objects.filter(event_id__startswith=f"{event_id}-").count()


class IdempotentFunctionTests(TestCase):
    def setUp(self):
        runs.clear()

    def test_a_call_stored_under_a_secret_now_in_the_fallbacks_is_not_run_again(self):
        old, new = "old-secret-" + "x" * 40, "new-secret-" + "x" * 40
        with self.settings(SECRET_KEY=old):
            first = note_once("rotated")
        with self.settings(SECRET_KEY=new, SECRET_KEY_FALLBACKS=[old]):
            self.assertEqual(note_once("rotated"), first)
        self.assertEqual(runs, ["rotated"])

    def test_second_call_returns_first_result_without_running(self):
        first = note_once("a")
        second = note_once("a")
        self.assertEqual(first, second)
        self.assertEqual(runs, ["a"])
        self.assertEqual(rows("a"), 1)

    def test_result_is_what_json_gives_back_on_every_call(self):
        self.assertEqual(note_once("b")["pair"], [1, 2])
        self.assertEqual(note_once("b")["pair"], [1, 2])

    def test_other_keys_run_independently(self):
        note_once("c")
        note_once("d")
        self.assertEqual(runs, ["c", "d"])

    def test_same_key_other_arguments_raises_key_mismatch_and_changes_nothing(self):
        note_once("e")
        with self.assertRaises(KeyMismatch):
            note_once("e", kind="other")
        self.assertEqual(runs, ["e"])
        self.assertFalse(WebhookEvent.objects.filter(type="other").exists())

    def test_keyword_and_positional_calls_are_the_same_call(self):
        note_once("f", "note")
        note_once(event_id="f")
        self.assertEqual(runs, ["f"])

    def test_key_from_a_callable_and_a_scope(self):
        self.assertEqual(message_apply({"id": "m-1"}), "m-1")
        self.assertEqual(message_apply({"id": "m-1"}), "m-1")
        self.assertEqual(runs, ["m-1"])
        row = IdempotencyKey.objects.get(key="m-1")
        self.assertEqual(row.principal, "function:messages")
        self.assertEqual((row.method, row.state), ("CALL", "completed"))
        self.assertEqual(row.path, "tests.idempotency.test_functions.message_apply")

    def test_a_key_has_owner_0_unless_the_decorator_names_one(self):
        note_once("o")
        note_for("o", 7)
        note_for("o", 7)
        note_for("o", 8)
        self.assertEqual(runs, ["o", "o", "o"])
        self.assertEqual(
            sorted(IdempotencyKey.objects.values_list("owner_id", "scope", "key")),
            [
                (0, "function:tests.idempotency.test_functions.note_once", "note-o"),
                (7, "function:owned", "o"),
                (8, "function:owned", "o"),
            ],
        )

    def test_key_row_names_the_function_by_default(self):
        note_once("g")
        row = IdempotencyKey.objects.get(key="note-g")
        self.assertEqual(
            row.principal, "function:tests.idempotency.test_functions.note_once"
        )

    def test_a_key_lives_its_ttl_and_an_expired_key_runs_anew(self):
        note_for_a_minute("t")
        row = IdempotencyKey.objects.get(key="short-t")
        self.assertAlmostEqual(
            (row.expires_at - row.created_at).total_seconds(), 60, delta=1
        )
        IdempotencyKey.objects.filter(pk=row.pk).update(expires_at=row.created_at)
        note_for_a_minute("t")
        self.assertEqual(runs, ["t", "t"])

    def test_a_failing_call_keeps_nothing_and_its_retry_runs(self):
        with self.assertRaises(ValueError):
            message_apply({"id": "m-2", "fail": True})
        self.assertFalse(IdempotencyKey.objects.filter(key="m-2").exists())
        with self.assertRaises(ValueError):
            message_apply({"id": "m-2", "fail": True})
        self.assertEqual(runs, ["m-2", "m-2"])

    def test_a_result_json_cannot_encode_is_type_error_and_keeps_nothing(self):
        with self.assertRaises(TypeError):
            unencodable("h")
        self.assertEqual(rows("h"), 0)
        self.assertFalse(IdempotencyKey.objects.filter(key="h").exists())

    def test_an_empty_key_is_refused(self):
        with self.assertRaises(ValueError):
            message_apply({"id": ""})
        self.assertEqual(runs, [])


class IdempotentFunctionCostTests(TransactionTestCase):
    """The dedupe costs two statements on a first call: the claim and the record."""

    def test_first_call_adds_two_statements_and_a_repeat_costs_two(self):
        plain = statements_of(lambda: note("plain"))
        first = statements_of(lambda: note_once("cost"))
        repeat = statements_of(lambda: note_once("cost"))
        self.assertLessEqual(len(first) - len(plain), 2)
        self.assertLessEqual(len(repeat), 2)


@needs_postgresql
class IdempotentFunctionRaceTests(TransactionTestCase):
    def setUp(self):
        runs.clear()

    def test_concurrent_calls_with_one_key_run_once_and_share_the_result(self):
        event_id = uuid.uuid4().hex
        results = run_together(lambda: note_once(event_id), threads=8)
        self.assertEqual(runs, [event_id])
        self.assertEqual(rows(event_id), 1)
        self.assertEqual(len({str(result) for result in results}), 1, results)
        self.assertIsInstance(results[0], dict)

    @override_settings(IDEMPOTENCY={"IN_FLIGHT_WAIT_SECONDS": 0.05})
    def test_a_call_while_the_first_is_in_flight_is_key_in_use(self):
        inside, leave = threading.Event(), threading.Event()

        @idempotent(key="{name}", scope="held")
        def held(name):
            inside.set()
            leave.wait(10)
            return name

        def first():
            try:
                held("x")
            finally:
                connection.close()

        thread = threading.Thread(target=first)
        thread.start()
        try:
            self.assertTrue(inside.wait(10))
            with self.assertRaises(KeyInUse):
                held("x")
        finally:
            leave.set()
            thread.join()
        self.assertEqual(held("x"), "x")
