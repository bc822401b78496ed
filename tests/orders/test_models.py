from datetime import timedelta

from django.db import transaction
from django.test import TestCase

from orders.exceptions import ClientIdMismatch, InvalidTransition
from orders.models import Order, OrderEvent
from tests.factories import make_user

PENDING, PROCESSING, COMPLETED, CANCELLED = (
    Order.Status.PENDING,
    Order.Status.PROCESSING,
    Order.Status.COMPLETED,
    Order.Status.CANCELLED,
)
ALLOWED = {
    (PENDING, PROCESSING),
    (PROCESSING, COMPLETED),
    (PENDING, CANCELLED),
    (PROCESSING, CANCELLED),
}


def make_order(owner, *, client_id="c-1", product_id=7, quantity=2, status=PENDING):
    order, _ = Order.objects.get_or_create_by_client_id(
        owner=owner, client_id=client_id, product_id=product_id, quantity=quantity
    )
    if status != PENDING:
        Order.objects.filter(pk=order.pk).update(status=status)
        order.refresh_from_db()
    return order


class GetOrCreateByClientIdTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.owner = make_user()

    def test_first_call_creates_a_pending_order_with_its_creation_event(self):
        order, created = Order.objects.get_or_create_by_client_id(
            owner=self.owner, client_id="c-1", product_id=7, quantity=2
        )
        self.assertTrue(created)
        order.refresh_from_db()
        self.assertEqual(
            (order.owner, order.client_id, order.product_id, order.quantity),
            (self.owner, "c-1", 7, 2),
        )
        self.assertEqual(order.status, PENDING)
        self.assertEqual(
            list(order.events.values_list("status", "at")),
            [(PENDING, order.created_at)],
        )

    def test_same_client_id_same_payload_returns_the_order_and_records_nothing(self):
        first, _ = Order.objects.get_or_create_by_client_id(
            owner=self.owner, client_id="c-1", product_id=7, quantity=2
        )
        again, created = Order.objects.get_or_create_by_client_id(
            owner=self.owner, client_id="c-1", product_id=7, quantity=2
        )
        self.assertFalse(created)
        self.assertEqual(again.pk, first.pk)
        self.assertEqual(Order.objects.count(), 1)
        self.assertEqual(OrderEvent.objects.count(), 1)

    def test_same_client_id_other_payload_raises_mismatch_and_changes_nothing(self):
        order = make_order(self.owner)
        for change in (
            {"product_id": 8},
            {"quantity": 3},
            {"product_id": 8, "quantity": 3},
        ):
            with self.subTest(**change):
                payload = {"product_id": 7, "quantity": 2, **change}
                with self.assertRaises(ClientIdMismatch):
                    Order.objects.get_or_create_by_client_id(
                        owner=self.owner, client_id="c-1", **payload
                    )
                order.refresh_from_db()
                self.assertEqual((order.product_id, order.quantity), (7, 2))
                self.assertEqual(Order.objects.count(), 1)
                self.assertEqual(OrderEvent.objects.count(), 1)

    def test_the_same_client_id_of_another_owner_is_another_order(self):
        mine = make_order(self.owner)
        theirs, created = Order.objects.get_or_create_by_client_id(
            owner=make_user(), client_id="c-1", product_id=99, quantity=5
        )
        self.assertTrue(created)
        self.assertNotEqual(theirs.pk, mine.pk)
        self.assertEqual(OrderEvent.objects.count(), 2)

    def test_mismatch_leaves_an_outer_transaction_usable(self):
        make_order(self.owner)
        with transaction.atomic():
            with self.assertRaises(ClientIdMismatch):
                Order.objects.get_or_create_by_client_id(
                    owner=self.owner, client_id="c-1", product_id=8, quantity=2
                )
            self.assertEqual(Order.objects.count(), 1)

    def test_str(self):
        order = make_order(self.owner)
        self.assertEqual(str(order), f"Order {order.pk} (pending)")
        self.assertIn("pending at ", str(order.events.get()))


class TransitionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.owner = make_user()

    def test_transition_table_is_the_documented_state_machine(self):
        self.assertEqual(
            {
                (source, target)
                for target, sources in Order.TRANSITIONS.items()
                for source in sources
            },
            ALLOWED,
        )

    def test_every_pair_of_statuses(self):
        for n, (source, target) in enumerate(
            (s, t) for s in Order.Status.values for t in Order.TRANSITIONS
        ):
            with self.subTest(source=source, target=target):
                order = make_order(self.owner, client_id=f"c-{n}", status=source)
                events = order.events.count()
                if source == target:
                    _, changed = Order.objects.transition(order.pk, to=target)
                    self.assertFalse(changed)
                    self.assertEqual(order.events.count(), events)
                elif (source, target) in ALLOWED:
                    _, changed = Order.objects.transition(order.pk, to=target)
                    self.assertTrue(changed)
                    self.assertEqual(
                        list(order.events.values_list("status", flat=True))[-1], target
                    )
                    self.assertEqual(order.events.count(), events + 1)
                else:
                    with self.assertRaises(InvalidTransition):
                        Order.objects.transition(order.pk, to=target)
                    self.assertEqual(order.events.count(), events)
                order.refresh_from_db()
                expected = target if (source, target) in ALLOWED else source
                self.assertEqual(order.status, expected)

    def test_returns_the_order_in_its_new_state(self):
        order = make_order(self.owner)
        moved, changed = Order.objects.transition(order.pk, to=PROCESSING)
        self.assertTrue(changed)
        self.assertEqual(moved.pk, order.pk)
        self.assertEqual(moved.status, PROCESSING)
        self.assertGreaterEqual(moved.updated_at, order.updated_at)
        self.assertEqual(
            [event.status for event in moved.events.all()], [PENDING, PROCESSING]
        )

    def test_a_retried_transition_is_a_no_op(self):
        order = make_order(self.owner)
        Order.objects.transition(order.pk, to=PROCESSING)
        again, changed = Order.objects.transition(order.pk, to=PROCESSING)
        self.assertFalse(changed)
        self.assertEqual(again.status, PROCESSING)
        self.assertEqual(order.events.count(), 2)

    def test_full_history_oldest_first(self):
        order = make_order(self.owner)
        Order.objects.transition(order.pk, to=PROCESSING)
        Order.objects.transition(order.pk, to=COMPLETED)
        self.assertEqual(
            list(order.events.values_list("status", flat=True)),
            [PENDING, PROCESSING, COMPLETED],
        )

    def test_events_are_ordered_by_time_then_id(self):
        order = make_order(self.owner)
        first = order.events.get()
        later = OrderEvent.objects.create(
            owner=self.owner,
            order=order,
            status=PROCESSING,
            at=first.at + timedelta(seconds=1),
        )
        same_time = OrderEvent.objects.create(
            owner=self.owner, order=order, status=CANCELLED, at=first.at
        )
        self.assertEqual(list(order.events.all()), [first, same_time, later])

    def test_a_scoped_queryset_does_not_find_another_owners_order(self):
        order = make_order(self.owner)
        with self.assertRaises(Order.DoesNotExist):
            Order.objects.filter(owner=make_user()).transition(order.pk, to=PROCESSING)
        order.refresh_from_db()
        self.assertEqual(order.status, PENDING)

    def test_a_prefetching_queryset_returns_fresh_events(self):
        order = make_order(self.owner)
        moved, _ = Order.objects.prefetch_related("events").transition(
            order.pk, to=PROCESSING
        )
        self.assertEqual(
            [event.status for event in moved.events.all()], [PENDING, PROCESSING]
        )

    def test_a_target_no_transition_leads_to_is_a_value_error(self):
        order = make_order(self.owner)
        for target in (PENDING, "shipped"):
            with self.subTest(target=target), self.assertRaises(ValueError):
                Order.objects.transition(order.pk, to=target)
        self.assertEqual(order.events.count(), 1)

    def test_invalid_transition_leaves_an_outer_transaction_usable(self):
        order = make_order(self.owner, status=COMPLETED)
        with transaction.atomic():
            with self.assertRaises(InvalidTransition):
                Order.objects.transition(order.pk, to=CANCELLED)
            self.assertEqual(Order.objects.get().status, COMPLETED)

    def test_invalid_transition_is_a_409_with_a_stable_code(self):
        error = InvalidTransition()
        self.assertEqual(error.status_code, 409)
        self.assertEqual(error.get_codes(), "invalid_transition")
