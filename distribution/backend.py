"""A PEP 517 build backend that packs ../idempotency into a wheel, needing nothing else.

The app lives in the project's tree, outside this directory, where common
backends will not reach; this one builds the wheel with the standard library.
"""

import base64
import hashlib
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "idempotency"


def _project() -> dict[str, Any]:
    return tomllib.loads((HERE / "pyproject.toml").read_text("utf-8"))["project"]


def _metadata(project: dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    lines.append("Description-Content-Type: text/markdown")
    readme = (HERE / project["readme"]).read_text("utf-8")
    return "\n".join(lines) + "\n\n" + readme


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(SOURCE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path, f"idempotency/{path.relative_to(SOURCE).as_posix()}"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{name},sha256={digest.decode()},{len(data)}"


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """Build the wheel into ``wheel_directory``; return its file name."""
    project = _project()
    stem = f"{project['name'].replace('-', '_')}-{project['version']}"
    info = f"{stem}.dist-info"
    wheel_name = f"{stem}-py3-none-any.whl"
    files = [(arcname, path.read_bytes()) for path, arcname in _sources()]
    files += [
        (f"{info}/METADATA", _metadata(project).encode("utf-8")),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: idem backend\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
    ]
    record = [_record_line(name, data) for name, data in files]
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(
        Path(wheel_directory) / wheel_name, "w", zipfile.ZIP_DEFLATED
    ) as wheel:
        for name, data in files:
            wheel.writestr(name, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel_name
