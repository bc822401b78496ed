"""``/metrics`` for Prometheus, from allowed addresses only, and ``/healthz``."""

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.django import PrometheusDjangoView
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from observability.gauges import DatabaseGauges
from observability.health import healthy
from observability.metrics import COUNTERS, SCRAPE_TIME_COLLECTORS


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in settings.METRICS_ALLOWED_IPS:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # reported by the observability.E001 check; allows nobody
    return networks


def address_allowed(address: str | None) -> bool:
    """Return whether ``address`` is in one of the METRICS_ALLOWED_IPS networks."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in _allowed_networks())


class _ProcessRegistry(Collector):
    """This process's own registry, as one collector of another registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _FilesCollector(multiprocess.MultiProcessCollector):
    """Every process's values in METRICS_DIRECTORY, without half-made files.

    A process creates its file empty, then sizes it: a scrape at that moment
    would fail on the empty file. Such a file holds no value yet; it is left
    out of this scrape. A counter no process has counted yet is shown
    without samples, as in one process.
    """

    def __init__(self, registry: CollectorRegistry, directory: Path) -> None:
        super().__init__(registry, path=str(directory))
        self.directory = directory

    def collect(self) -> Iterable[Metric]:
        files = []
        for path in self.directory.glob("*.db"):
            try:
                if path.stat().st_size >= 8:
                    files.append(str(path))
            except FileNotFoundError:
                continue  # a live gauge of a process that just ended
        merged = list(self.merge(files, accumulate=True))
        names = {family.name for family in merged}
        for counter in COUNTERS:
            merged += [f for f in counter.describe() if f.name not in names]
        return merged


def _registry(multiprocess_mode: bool) -> CollectorRegistry:
    """Return the registry /metrics shows: the counters, then the database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode:
        _FilesCollector(registry, Path(settings.METRICS_DIRECTORY))
        # In one process these are in REGISTRY already.
        for collector in SCRAPE_TIME_COLLECTORS:
            registry.register(collector)
    else:
        registry.register(_ProcessRegistry())
    registry.register(DatabaseGauges())
    return registry


class MetricsView(PrometheusDjangoView):
    """The Prometheus text format, summed over every process of the server.

    ``prometheus_client``'s view: it reads the directory of every process's
    values when ``PROMETHEUS_MULTIPROC_DIR`` is set, and this process's
    registry otherwise; it honours ``Accept`` (OpenMetrics) and gzip. The
    gauges of observability/gauges.py are read from the database at each
    scrape.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if self.registry is None:
            MetricsView.registry = _registry(self.multiprocess_mode)
        return super().get(request, *args, **kwargs)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not address_allowed(request.META.get("REMOTE_ADDR")):
            return JsonResponse(
                {
                    "detail": "You do not have permission to read the metrics.",
                    "code": "permission_denied",
                },
                status=403,
            )
        return super().dispatch(request, *args, **kwargs)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the database (and a configured broker) answers, else 503."""
    if healthy():
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "unavailable"}, status=503)
