"""The docs held to the code: error codes, environment variables, relative links."""

import ast
import re
import unicodedata
from pathlib import Path

from django.conf import settings
from django.contrib.auth.management.commands import createsuperuser
from django.test import SimpleTestCase
from rest_framework import exceptions as drf_exceptions

BASE = Path(settings.BASE_DIR)
DOCS = sorted((BASE / "docs").glob("*.md"))
PRODUCT = [
    path
    for path in BASE.glob("*/**/*.py")
    if path.relative_to(BASE).parts[0] not in {"tests", "bench", ".venv"}
    and "migrations" not in path.parts
]
# DRF's codes the API answers itself; ValidationError's are field errors and
# APIException's "error" is never raised bare.
DRF_CODES = {
    cls.default_code
    for cls in vars(drf_exceptions).values()
    if isinstance(cls, type)
    and issubclass(cls, drf_exceptions.APIException)
    and cls not in {drf_exceptions.APIException, drf_exceptions.ValidationError}
}
# Variables in the table that something other than the settings reads, and
# the text that reads them there.
READ_ELSEWHERE = {
    "PROMETHEUS_MULTIPROC_DIR": (
        BASE / "idem_project" / "startup.py",
        '"PROMETHEUS_MULTIPROC_DIR"',
    ),
    "DJANGO_SUPERUSER_EMAIL": (Path(createsuperuser.__file__), '"DJANGO_SUPERUSER_"'),
    "DJANGO_SUPERUSER_PASSWORD": (
        Path(createsuperuser.__file__),
        '"DJANGO_SUPERUSER_PASSWORD"',
    ),
}


def table_rows(text, header):
    """Return the cells of each row of the markdown table whose header starts so."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def codes_in_the_code():
    """Return every top-level ``code`` the product sets: default_code, or a literal body."""
    codes = set(DRF_CODES)
    for path in PRODUCT:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "default_code"
                for target in node.targets
            ):
                codes.add(ast.literal_eval(node.value))
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "code"
                        and isinstance(value, ast.Constant)
                    ):
                        codes.add(value.value)
    return codes


def variables_the_settings_read():
    """Return the first argument of every ``env_*`` call in settings.py."""
    tree = ast.parse((BASE / "idem_project" / "settings.py").read_text("utf-8"))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def slug(heading):
    """Return GitHub's anchor of a heading."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def without_code(text):
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path):
    text = re.sub(r"^```.*?^```", "", path.read_text("utf-8"), flags=re.S | re.M)
    found, seen = set(), {}
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        base = slug(heading.replace("`", ""))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if not count else f"{base}-{count}")
    return found


class ErrorCodesTests(SimpleTestCase):
    def documented(self):
        text = (BASE / "docs" / "errors.md").read_text("utf-8")
        rows = table_rows(text, "| status | code | class | when |")
        return rows, {
            code
            for _, cell, *_ in rows
            if "field error" not in cell
            for code in re.findall(r"`([a-z_]+)`", cell)
        }

    def test_every_documented_code_exists_in_the_code(self):
        _, documented = self.documented()
        self.assertEqual(documented - codes_in_the_code(), set())

    def test_every_code_the_code_sets_is_documented(self):
        _, documented = self.documented()
        self.assertEqual(codes_in_the_code() - documented, set())

    def test_no_row_is_listed_twice_and_every_class_named_exists(self):
        rows, _ = self.documented()
        codes = [row[1] for row in rows if "field error" not in row[1]]
        self.assertEqual(
            [
                code
                for code in codes
                if codes.count(code) > 1 and code != "`parse_error`"
            ],
            [],
        )
        for row in rows:
            for dotted in re.findall(r"`((?:[a-z_]+\.)+[A-Za-z_]+)`", row[2]):
                module, name = dotted.rsplit(".", 1)
                with self.subTest(dotted):
                    source = (BASE / (module.replace(".", "/") + ".py")).read_text()
                    self.assertRegex(source, rf"(class|def) {name}\b")


class EnvironmentVariablesTests(SimpleTestCase):
    def documented(self):
        text = (BASE / "docs" / "api.md").read_text("utf-8")
        rows = table_rows(text, "| variable | meaning | default |")
        return {name for row in rows for name in re.findall(r"`([A-Z_]+)`", row[0])}

    def test_every_documented_variable_is_read(self):
        unread = self.documented() - variables_the_settings_read()
        for name in sorted(unread):
            with self.subTest(name):
                self.assertIn(name, READ_ELSEWHERE)
                path, text = READ_ELSEWHERE[name]
                self.assertIn(text, path.read_text("utf-8"))

    def test_the_settings_read_the_environment_only_through_idem_project_env(self):
        # So that the env_* calls above are every variable the settings read.
        source = (BASE / "idem_project" / "settings.py").read_text("utf-8")
        self.assertNotIn("os.environ", source)
        self.assertNotIn("getenv", source)

    def test_every_variable_the_settings_read_is_documented(self):
        self.assertEqual(variables_the_settings_read() - self.documented(), set())


class RelativeLinksTests(SimpleTestCase):
    def test_every_relative_link_resolves_to_a_file_and_an_anchor(self):
        for page in [BASE / "README.md", *DOCS]:
            text = without_code(page.read_text("utf-8"))
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                path, _, anchor = target.partition("#")
                resolved = (page.parent / path).resolve() if path else page
                with self.subTest(page=page.name, link=target):
                    self.assertTrue(resolved.exists(), f"{resolved} does not exist")
                    if anchor and resolved.suffix == ".md":
                        self.assertIn(anchor, anchors(resolved))
