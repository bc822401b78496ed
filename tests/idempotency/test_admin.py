from datetime import timedelta

from celery.signals import after_task_publish
from django.contrib.auth.models import Permission
from django.test import TestCase
from django.utils import timezone

from idempotency.models import IdempotencyKey
from tests.factories import make_staff, make_user

CHANGELIST = "/admin/idempotency/idempotencykey/"


def make_key(key, *, owner=0, expires_in=3600, body=b'{"id": 1}', **fields):
    return IdempotencyKey.objects.create(
        owner_id=owner,
        key=key,
        method=fields.pop("method", "POST"),
        path=fields.pop("path", "/api/orders/"),
        fingerprint="f" * 64,
        state="completed",
        status_code=fields.pop("status_code", 201),
        response_body=body,
        content_type="application/json",
        expires_at=timezone.now() + timedelta(seconds=expires_in),
        **fields,
    )


class IdempotencyKeyAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.staff = make_staff()
        cls.staff.user_permissions.set(
            Permission.objects.filter(
                codename__in=["view_idempotencykey", "delete_idempotencykey"]
            )
        )
        cls.owner = make_user(email="owner@example.com")
        cls.mine = make_key("key-of-owner", owner=cls.owner.pk, path="/api/orders/")
        cls.other = make_key(
            "other-key", path="/api/users/", method="PUT", status_code=200
        )
        cls.expired = make_key("old-key", expires_in=-60)

    def setUp(self):
        self.client.force_login(self.staff)

    def listed(self, query=""):
        response = self.client.get(CHANGELIST + query)
        self.assertEqual(response.status_code, 200)
        return {key.key for key in response.context["cl"].result_list}

    def test_staff_see_the_list_with_its_columns(self):
        response = self.client.get(CHANGELIST)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.listed(), {"key-of-owner", "other-key", "old-key"})
        content = response.content.decode()
        for header in [
            "Key",
            "Principal",
            "Method",
            "Path",
            "Status code",
            "State",
            "Created at",
            "Expires at",
        ]:
            with self.subTest(header=header):
                self.assertIn(header, content)

    def test_search_by_key_path_and_the_principals_email(self):
        searches = {
            "key-of": {"key-of-owner"},
            "/api/users/": {"other-key"},
            "owner@example": {"key-of-owner"},
            "OWNER@EXAMPLE.COM": {"key-of-owner"},
            "nobody": set(),
        }
        for term, expected in searches.items():
            with self.subTest(term=term):
                self.assertEqual(self.listed(f"?q={term}"), expected)

    def test_filters_by_state_method_status_code_and_expiry(self):
        filters = {
            "?state=completed": {"key-of-owner", "other-key", "old-key"},
            "?state=in_flight": set(),
            "?method=PUT": {"other-key"},
            "?status_code=200": {"other-key"},
            "?expired=yes": {"old-key"},
            "?expired=no": {"key-of-owner", "other-key"},
        }
        for query, expected in filters.items():
            with self.subTest(query=query):
                self.assertEqual(self.listed(query), expected)

    def test_detail_shows_the_stored_reply_as_indented_escaped_json(self):
        key = make_key("html", body=b'{"name": "<script>x</script>", "n": [1, 2]}')
        response = self.client.get(f"{CHANGELIST}{key.pk}/change/")
        self.assertEqual(response.status_code, 200)
        content = response.content.decode()
        self.assertIn(
            "<pre>{\n  &quot;name&quot;: &quot;&lt;script&gt;x&lt;/script&gt;&quot;,\n"
            "  &quot;n&quot;: [\n    1,\n    2\n  ]\n}</pre>",
            content,
        )
        self.assertNotIn("<script>x", content)

    def test_a_reply_that_is_not_json_is_shown_as_text(self):
        key = make_key("text", body=b"plain <b>text</b>")
        content = self.client.get(f"{CHANGELIST}{key.pk}/change/").content.decode()
        self.assertIn("<pre>plain &lt;b&gt;text&lt;/b&gt;</pre>", content)

    def test_keys_are_read_only(self):
        self.assertEqual(self.client.get(f"{CHANGELIST}add/").status_code, 403)
        response = self.client.get(f"{CHANGELIST}{self.mine.pk}/change/")
        self.assertEqual(response.status_code, 200)
        self.assertNotIn('name="_save"', response.content.decode())
        self.assertNotIn('name="_continue"', response.content.decode())
        posted = self.client.post(
            f"{CHANGELIST}{self.mine.pk}/change/", {"key": "changed"}
        )
        self.assertEqual(posted.status_code, 403)
        self.mine.refresh_from_db()
        self.assertEqual(self.mine.key, "key-of-owner")

    def test_superusers_cannot_add_or_change_either(self):
        self.client.force_login(make_staff(is_superuser=True))
        self.assertEqual(self.client.get(f"{CHANGELIST}add/").status_code, 403)
        response = self.client.get(f"{CHANGELIST}{self.mine.pk}/change/")
        self.assertNotIn('name="_save"', response.content.decode())

    def test_release_action_deletes_the_selected_keys(self):
        response = self.client.post(
            CHANGELIST,
            {
                "action": "release_keys",
                "_selected_action": [self.mine.pk, self.other.pk],
            },
            follow=True,
        )
        self.assertContains(response, "Released 2 key(s).")
        self.assertEqual(list(IdempotencyKey.objects.all()), [self.expired])

    def test_purge_action_hands_the_purge_to_the_worker_and_says_so(self):
        published = []

        def record(sender, **kwargs):
            published.append(sender)

        after_task_publish.connect(record)
        self.addCleanup(after_task_publish.disconnect, record)
        response = self.client.post(
            CHANGELIST,
            {"action": "purge_expired_keys", "_selected_action": [self.mine.pk]},
            follow=True,
        )
        self.assertContains(
            response, "Handed the purge of all expired keys to the worker"
        )
        self.assertEqual(published, ["idempotency.purge_expired_keys"])
        self.assertEqual(IdempotencyKey.objects.count(), 3)

    def test_staff_without_delete_permission_have_no_actions(self):
        viewer = make_staff()
        viewer.user_permissions.set(
            Permission.objects.filter(codename="view_idempotencykey")
        )
        self.client.force_login(viewer)
        response = self.client.get(CHANGELIST)
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("release_keys", response.content.decode())

    def test_non_staff_are_sent_to_the_login_page(self):
        self.client.force_login(make_user())
        for url in [CHANGELIST, f"{CHANGELIST}{self.mine.pk}/change/"]:
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertEqual(response.status_code, 302)
                self.assertIn("/admin/login/", response["Location"])

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        self.client.logout()
        response = self.client.get(CHANGELIST)
        self.assertEqual(response.status_code, 302)
        self.assertIn("/admin/login/", response["Location"])
