import hashlib
import json

from django.test import SimpleTestCase

from idempotency.fingerprint import (
    FilePart,
    InvalidKey,
    body_payload,
    data_payload,
    form_payload,
    json_payload,
    key_from_headers,
    parse_key,
    request_fingerprint,
)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SECRET = b"test-secret"


def fingerprint(
    body, content_type=JSON, method="POST", path="/api/things/", secret=SECRET
):
    payload = body_payload(content_type=content_type, body=body)
    return request_fingerprint(method=method, path=path, payload=payload, secret=secret)


class ParseKeyTests(SimpleTestCase):
    def test_visible_ascii_from_1_to_255_characters_is_a_key(self):
        for value in ["a", "abc-123_XYZ", "!~" * 10, "k" * 255, 'a"b', "{uuid}"]:
            with self.subTest(value=value):
                self.assertEqual(parse_key(value), value)

    def test_quoted_form_is_the_same_key_as_the_bare_one(self):
        self.assertEqual(parse_key('"abc"'), "abc")
        self.assertEqual(parse_key('"' + "k" * 255 + '"'), "k" * 255)

    def test_anything_else_is_invalid(self):
        for value in [
            "",
            '""',
            "k" * 256,
            '"' + "k" * 256 + '"',
            "a b",
            " ",
            "tab\there",
            "bell\x07",
            "del\x7f",
            "café",
            "ключ",
            '"abc',
            'abc"',
            '"a"b"',
            '"a\\"b"',
            '"a b"',
        ]:
            with self.subTest(value=value), self.assertRaises(InvalidKey):
                parse_key(value)

    def test_invalid_key_is_a_value_error(self):
        self.assertTrue(issubclass(InvalidKey, ValueError))


class KeyFromHeadersTests(SimpleTestCase):
    def test_no_header_is_no_key(self):
        self.assertIsNone(key_from_headers(None, None))

    def test_either_header_carries_the_key(self):
        self.assertEqual(key_from_headers("k1", None), "k1")
        self.assertEqual(key_from_headers(None, "k1"), "k1")

    def test_both_headers_with_the_same_key_agree(self):
        self.assertEqual(key_from_headers("k1", "k1"), "k1")
        self.assertEqual(key_from_headers('"k1"', "k1"), "k1")

    def test_both_headers_with_different_keys_are_invalid(self):
        with self.assertRaises(InvalidKey):
            key_from_headers("k1", "k2")

    def test_an_invalid_alias_is_invalid(self):
        with self.assertRaises(InvalidKey):
            key_from_headers("k1", "")


class JsonPayloadTests(SimpleTestCase):
    def test_key_order_and_white_space_do_not_matter(self):
        a = b'{"b": 1, "a": {"y": [1, 2], "x": null}}'
        b = b'{\n  "a":{"x":null,"y":[1,2]},\n  "b":1\n}'
        self.assertEqual(fingerprint(a), fingerprint(b))

    def test_values_list_order_and_types_matter(self):
        base = fingerprint(b'{"a": [1, 2]}')
        for other in [b'{"a": [2, 1]}', b'{"a": ["1", 2]}', b'{"a": [1, 2, 3]}']:
            with self.subTest(other=other):
                self.assertNotEqual(fingerprint(other), base)

    def test_charset_parameter_and_json_suffix_are_json(self):
        body = b'{"b": 1, "a": 2}'
        canonical = fingerprint(b'{"a":2,"b":1}')
        for content_type in [
            "application/json; charset=utf-8",
            "application/problem+json",
        ]:
            with self.subTest(content_type=content_type):
                self.assertEqual(fingerprint(body, content_type), canonical)

    def test_parsed_data_has_the_same_payload_as_its_body(self):
        self.assertEqual(
            data_payload({"b": [1, {"d": 2, "c": 3}], "a": "é"}),
            json_payload('{"a": "é", "b": [1, {"c": 3, "d": 2}]}'.encode()),
        )

    def test_a_body_that_is_not_json_never_raises_and_is_taken_byte_for_byte(self):
        bodies = [
            b"{not json",
            b"\xff\xfe\x00garbage",
            b"[" * 100_000,
            b'{"n": ' + b"9" * 5000 + b"}",
            b'"\\ud800"',
        ]
        for body in bodies:
            with self.subTest(body=body[:20]):
                self.assertEqual(fingerprint(body), fingerprint(body))
                self.assertRegex(fingerprint(body), r"^[0-9a-f]{64}$")
        self.assertNotEqual(fingerprint(b"{not json"), fingerprint(b"{not json "))

    def test_unserialisable_parsed_data_never_raises(self):
        self.assertTrue(data_payload({"a": object()}).startswith(b"raw:"))


class FormPayloadTests(SimpleTestCase):
    def test_field_order_does_not_matter(self):
        self.assertEqual(fingerprint(b"a=1&b=2", FORM), fingerprint(b"b=2&a=1", FORM))

    def test_every_value_of_a_field_counts_in_the_order_sent(self):
        base = fingerprint(b"a=1&a=2", FORM)
        self.assertEqual(
            fingerprint(b"a=1&b=x&a=2", FORM), fingerprint(b"b=x&a=1&a=2", FORM)
        )
        self.assertNotEqual(fingerprint(b"a=1", FORM), base)
        self.assertNotEqual(fingerprint(b"a=2&a=1", FORM), base)

    def test_parsed_fields_match_the_raw_body(self):
        self.assertEqual(
            body_payload(content_type=FORM, body=b"b=%C3%A9&a=1&a="),
            form_payload(fields=[("a", "1"), ("a", ""), ("b", "é")]),
        )

    def test_undecodable_form_bytes_never_raise(self):
        self.assertRegex(fingerprint(b"a=\xff\xfe&b", FORM), r"^[0-9a-f]{64}$")

    def test_json_and_form_with_the_same_fields_differ(self):
        self.assertNotEqual(fingerprint(b'{"a":"1"}'), fingerprint(b"a=1", FORM))


class MultipartPayloadTests(SimpleTestCase):
    def digest(self, data):
        return hashlib.sha256(data).hexdigest()

    def test_fields_and_file_digests_in_any_order_are_the_same_payload(self):
        one = FilePart("file", "cat.jpg", self.digest(b"meow"))
        two = FilePart("other", "dog.jpg", self.digest(b"woof"))
        self.assertEqual(
            form_payload(fields=[("a", "1"), ("b", "2")], files=[one, two]),
            form_payload(fields=[("b", "2"), ("a", "1")], files=[two, one]),
        )

    def test_file_content_name_and_field_all_count(self):
        base = form_payload(files=[FilePart("file", "cat.jpg", self.digest(b"meow"))])
        for other in [
            FilePart("file", "cat.jpg", self.digest(b"purr")),
            FilePart("file", "kitten.jpg", self.digest(b"meow")),
            FilePart("photo", "cat.jpg", self.digest(b"meow")),
        ]:
            with self.subTest(other=other):
                self.assertNotEqual(form_payload(files=[other]), base)

    def test_a_file_differs_from_a_field_with_the_same_content(self):
        self.assertNotEqual(
            form_payload(fields=[("file", "meow")]),
            form_payload(files=[FilePart("file", "", self.digest(b"meow"))]),
        )


class RequestFingerprintTests(SimpleTestCase):
    def test_method_path_and_query_string_count(self):
        base = fingerprint(b"{}")
        for kwargs in [
            {"method": "PUT"},
            {"path": "/api/other/"},
            {"path": "/api/things/?page=2"},
        ]:
            with self.subTest(**kwargs):
                self.assertNotEqual(fingerprint(b"{}", **kwargs), base)

    def test_empty_body_is_the_same_whatever_its_content_type(self):
        self.assertEqual(fingerprint(b"", JSON), fingerprint(b"", "text/plain"))
        self.assertNotEqual(fingerprint(b"", JSON), fingerprint(b"{}", JSON))

    def test_unknown_media_types_compare_bytes(self):
        self.assertEqual(
            fingerprint(b"hello", "text/plain"), fingerprint(b"hello", "text/plain")
        )
        self.assertNotEqual(
            fingerprint(b"hello", "text/plain"), fingerprint(b"hello ", "text/plain")
        )

    def test_the_secret_changes_the_fingerprint(self):
        body = b'{"password": "hunter2"}'
        self.assertEqual(fingerprint(body), fingerprint(body))
        self.assertNotEqual(fingerprint(body), fingerprint(body, secret=b"other"))

    def test_a_bare_sha256_does_not_reproduce_the_fingerprint(self):
        body = b'{"password": "hunter2"}'
        payload = body_payload(content_type=JSON, body=body)
        inner = hashlib.sha256(payload).hexdigest().encode()
        guesses = {
            hashlib.sha256(b"POST\n/api/things/\n" + inner).hexdigest(),
            hashlib.sha256(b"POST\n/api/things/\n" + payload).hexdigest(),
            hashlib.sha256(payload).hexdigest(),
            hashlib.sha256(body).hexdigest(),
        }
        self.assertNotIn(fingerprint(body), guesses)

    def test_fingerprint_is_64_hex_digits(self):
        self.assertRegex(fingerprint(json.dumps({"a": 1}).encode()), r"^[0-9a-f]{64}$")


class UploadDigestTests(SimpleTestCase):
    def test_a_digest_left_by_the_upload_handler_is_used_without_reading_again(self):
        from idempotency.drf.payload import file_digest as _file_digest

        class Hashed:
            sha256 = "ab" * 32

            def chunks(self):
                raise AssertionError("the file was read a second time")

        self.assertEqual(_file_digest(Hashed()), "ab" * 32)
