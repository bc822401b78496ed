"""System checks of the observability settings."""

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_metrics_allowed_ips(**kwargs: Any) -> list[CheckMessage]:
    """Report entries of METRICS_ALLOWED_IPS that are not addresses or networks."""
    errors: list[CheckMessage] = []
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"METRICS_ALLOWED_IPS: {entry!r} is not an IP address or network.",
                    hint="Give comma-separated addresses such as 127.0.0.1,::1 "
                    "or networks such as 10.0.0.0/8.",
                    id="observability.E001",
                )
            )
    return errors
