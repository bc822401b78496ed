import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import TestCase

from orders.models import Order, OrderEvent
from tests.factories import make_user

HEADER = "client_id,product_id,quantity\n"


class ImportOrdersCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = make_user(email="owner@example.com")

    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)

    def csv(self, text, name="orders.csv"):
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        return path

    def run_command(self, path, owner="owner@example.com"):
        out, err = StringIO(), StringIO()
        call_command("import_orders", str(path), owner=owner, stdout=out, stderr=err)
        return out.getvalue(), err.getvalue()

    def test_the_rows_are_created_and_the_three_counts_printed(self):
        Order.objects.get_or_create_by_client_id(
            owner=self.user, client_id="old", product_id=1, quantity=1
        )
        path = self.csv(HEADER + "a,7,1\nb,7,2\nold,1,1\na,7,1\na,8,1\nold,2,2\n")
        out, err = self.run_command(path)
        self.assertEqual(out, "created 2, existing 2, mismatch 2\n")
        self.assertEqual(
            err,
            f"{path}:6: client_id 'a': mismatch, its order has another product "
            f"or quantity\n{path}:7: client_id 'old': mismatch, its order has "
            "another product or quantity\n",
        )
        self.assertEqual(
            sorted(self.user.orders.values_list("client_id", "product_id", "quantity")),
            [("a", 7, 1), ("b", 7, 2), ("old", 1, 1)],
        )
        self.assertEqual(OrderEvent.objects.count(), 3)

    def test_a_second_run_creates_nothing(self):
        path = self.csv(HEADER + "".join(f"c-{n},7,1\n" for n in range(2500)))
        self.assertEqual(
            self.run_command(path)[0], "created 2500, existing 0, mismatch 0\n"
        )
        self.assertEqual(
            self.run_command(path)[0], "created 0, existing 2500, mismatch 0\n"
        )
        self.assertEqual(Order.objects.count(), 2500)
        self.assertEqual(OrderEvent.objects.count(), 2500)

    def test_mismatched_lines_are_named_in_later_batches_too(self):
        rows = [f"c-{n},7,1\n" for n in range(1500)]
        self.run_command(self.csv(HEADER + "".join(rows)))
        rows[1200] = "c-1200,7,2\n"
        out, err = self.run_command(self.csv(HEADER + "".join(rows), "again.csv"))
        self.assertEqual(out, "created 0, existing 1499, mismatch 1\n")
        self.assertIn(":1202: client_id 'c-1200': mismatch", err)
        self.assertEqual(len(err.splitlines()), 1)

    def test_client_ids_are_kept_exactly_as_written(self):
        client_ids = ['a,"b"\nc', " spaced ", "é", "e\u0301"]
        lines = "".join(
            '"' + client_id.replace('"', '""') + '",7,1\n' for client_id in client_ids
        )
        out, _ = self.run_command(self.csv(HEADER + lines))
        self.assertEqual(out, "created 4, existing 0, mismatch 0\n")
        self.assertEqual(
            sorted(Order.objects.values_list("client_id", flat=True)),
            sorted(client_ids),
        )

    def test_the_owner_email_is_matched_ignoring_case(self):
        out, _ = self.run_command(
            self.csv(HEADER + "a,7,1\n"), owner="OWNER@example.com"
        )
        self.assertEqual(out, "created 1, existing 0, mismatch 0\n")
        self.assertEqual(Order.objects.get().owner, self.user)

    def test_columns_in_another_order_and_a_byte_order_mark_are_read(self):
        path = self.folder / "bom.csv"
        path.write_text("quantity,client_id,product_id\n3,a,7\n", encoding="utf-8-sig")
        self.run_command(path)
        order = Order.objects.get()
        self.assertEqual(
            (order.client_id, order.product_id, order.quantity), ("a", 7, 3)
        )

    def run_failing(self, path, owner="owner@example.com"):
        err = StringIO()
        with self.assertRaises(CommandError) as raised:
            call_command(
                "import_orders", str(path), owner=owner, stdout=StringIO(), stderr=err
            )
        # manage.py prints the message and exits with this status.
        self.assertEqual(raised.exception.returncode, 1)
        return str(raised.exception), err.getvalue().splitlines()

    def test_bad_rows_are_reported_by_line_and_nothing_is_imported(self):
        path = self.csv(HEADER + 'a,7,1\nb,seven,1\n"c\nd",7,0\ne\nf,7,1\n')
        message, lines = self.run_failing(path)
        self.assertEqual(message, f"{path} has 4 error(s); nothing imported.")
        self.assertEqual(
            lines,
            [
                f"{path}:3: product_id: A valid integer is required.",
                f"{path}:5: quantity: Ensure this value is greater than or equal to 1.",
                f"{path}:6: product_id: This field may not be null.",
                f"{path}:6: quantity: This field may not be null.",
            ],
        )
        self.assertFalse(Order.objects.exists())

    def test_a_bad_row_in_a_later_batch_imports_nothing_either(self):
        rows = [f"c-{n},7,1\n" for n in range(1500)] + ["bad,7,-1\n"]
        message, lines = self.run_failing(self.csv(HEADER + "".join(rows)))
        self.assertIn("has 1 error(s)", message)
        self.assertEqual(len(lines), 1)
        self.assertIn(":1502: quantity:", lines[0])
        self.assertFalse(Order.objects.exists())

    def test_only_the_first_errors_are_printed(self):
        path = self.csv(HEADER + "".join(f"c-{n},0,1\n" for n in range(30)))
        message, lines = self.run_failing(path)
        self.assertIn("has 30 error(s)", message)
        self.assertEqual(len(lines), 21)
        self.assertEqual(lines[-1], "... and 10 more errors")

    def test_an_unknown_owner_is_an_error(self):
        message, _ = self.run_failing(
            self.csv(HEADER + "a,7,1\n"), owner="nobody@example.com"
        )
        self.assertEqual(message, "No user has the e-mail 'nobody@example.com'.")
        self.assertFalse(Order.objects.exists())

    def test_a_file_without_the_header_is_an_error(self):
        message, _ = self.run_failing(self.csv("a,7,1\n"))
        self.assertIn("the first line must name the columns", message)
        self.assertFalse(Order.objects.exists())

    def test_a_missing_file_is_an_error(self):
        message, _ = self.run_failing(self.folder / "missing.csv")
        self.assertIn("No such file", message)

    def test_an_empty_file_is_an_error_and_a_header_alone_imports_nothing(self):
        self.run_failing(self.csv(""))
        out, _ = self.run_command(self.csv(HEADER))
        self.assertEqual(out, "created 0, existing 0, mismatch 0\n")
