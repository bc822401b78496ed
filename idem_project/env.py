"""Read environment variables for the settings; a bad value stops start-up in one line.

Each reader returns the default when the variable is unset or empty, and
raises EnvironmentValueError, whose message names the variable and the form
expected, when its value has another form.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url

from idem_project.startup import EnvironmentValueError


def _wrong(name: str, form: str, value: str) -> EnvironmentValueError:
    return EnvironmentValueError(f"{name}: expected {form}, got {value!r}")


def env_str(name: str, default: str) -> str:
    """Return the environment variable ``name``, or ``default`` when unset or empty."""
    return os.environ.get(name) or default


def env_secret(name: str, development: str, *, required: bool) -> str:
    """Return ``name``; when ``required``, refuse it unset or at ``development``.

    The development values are in the repository: anyone could sign a session
    or forge a payment event with them.
    """
    value = env_str(name, development)
    if required and value == development:
        raise EnvironmentValueError(
            f"{name}: expected a secret value of your own when DEBUG=0, "
            "got the development value (or none)"
        )
    return value


def env_fallbacks(name: str, development: str, *, required: bool) -> list[str]:
    """Return ``name`` as comma-separated earlier secrets; when ``required``, without ``development``."""
    values = env_list(name, [])
    if required and development in values:
        raise EnvironmentValueError(
            f"{name}: expected earlier secret values of your own when DEBUG=0, "
            "got the development value among them"
        )
    return values


def env_bool(name: str, default: bool) -> bool:
    """Return ``name`` read as a boolean (``1``/``0``, ``true``/``false``, ``yes``/``no``)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise _wrong(name, "1/0 or true/false", os.environ[name])


def env_int(
    name: str,
    default: int,
    *,
    form: str = "an integer",
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    """Return ``name`` read as an integer from ``minimum`` to ``maximum``; ``form`` names it."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if (
        not value.isdecimal()
        or int(value) < minimum
        or (maximum is not None and int(value) > maximum)
    ):
        raise _wrong(name, form, os.environ[name])
    return int(value)


def env_count(name: str, default: int, unit: str) -> int:
    """Return ``name`` read as a whole number, 1 or more, of ``unit`` (plural)."""
    return env_int(name, default, form=f"a whole number of {unit}", minimum=1)


def env_port(name: str, default: int) -> int:
    """Return ``name`` read as a TCP port number."""
    form = "a port number from 1 to 65535"
    return env_int(name, default, form=form, minimum=1, maximum=65535)


def env_whole_seconds(name: str, default: int) -> int:
    """Return ``name`` read as a whole number of seconds, 1 or more."""
    return env_count(name, default, "seconds, 1 or more")


def env_retention_days(name: str, *, longest_retry_seconds: int) -> int:
    """Return ``name`` read as whole days, never fewer than the longest retry takes.

    A record of a processed message must outlive every retry of that message;
    the default is a week, or the longest retry when that is longer.
    """
    longest = -(-longest_retry_seconds // (24 * 60 * 60))
    return env_int(
        name,
        max(7, longest),
        form=f"a whole number of days, {longest} or more "
        "(the longest retry, OUTBOX_GIVE_UP_AFTER)",
        minimum=longest,
    )


def env_seconds(name: str, default: float) -> float:
    """Return ``name`` read as a positive number of seconds (``10``, ``2.5``)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise _wrong(name, "a positive number of seconds, such as 10 or 2.5", value)
    return seconds


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """Return ``name``, which must be one of ``choices`` (compared in upper case)."""
    value = os.environ.get(name, "").strip().upper()
    if not value:
        return default
    if value not in choices:
        raise _wrong(name, "one of " + ", ".join(choices), os.environ[name])
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """Return ``name`` read as a comma-separated list."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_paths(name: str) -> list[str]:
    """Return ``name`` read as a comma-separated list of paths that start with ``/``."""
    paths = env_list(name, [])
    if any(not path.startswith("/") for path in paths):
        raise _wrong(
            name, "comma-separated paths that start with '/'", os.environ[name]
        )
    return paths


def env_networks(name: str, default: list[str]) -> list[str]:
    """Return ``name`` read as a comma-separated list of IP addresses or networks."""
    entries = env_list(name, default)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise _wrong(
                name, "IP addresses or networks such as 127.0.0.1,10.0.0.0/8", entry
            ) from None
    return entries


def env_database(name: str, default: str) -> dict:
    """Return the database settings of the URL in ``name``; never echo the URL."""
    try:
        return dj_database_url.parse(env_str(name, default))
    except ValueError:
        raise EnvironmentValueError(
            f"{name}: expected a database URL such as "
            "postgres://user@host:5432/name or sqlite:///path/db.sqlite3"
        ) from None


def env_broker(name: str, default: str, *, folder: Path) -> tuple[str, dict]:
    """Return the broker URL in ``name`` and the transport options it needs.

    kombu's filesystem transport gets its folders under ``folder``, created
    here: kombu creates none of them, and every process that uses the
    transport (web, worker, scheduler) may be the first to start.
    """
    url = env_str(name, default)
    if not url.startswith("filesystem://"):
        return url, {}
    for sub in ("queue", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return url, {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
