"""Which webhook URLs may be called: http(s) to public addresses only, pinned at connect."""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit


class UnsafeURL(ValueError):
    """A URL that is not http(s), or whose host is or resolves to a non-public address."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_resolve(url: str, *, allow_private: bool) -> tuple[str, int, str]:
    """Return ``(host, port, address)``: the address to connect to for ``url``.

    Every address the host resolves to must be public (so a name cannot
    offer a public address and then a private one), unless ``allow_private``.
    Raise UnsafeURL otherwise, or when the scheme is not http or https or
    the host does not resolve.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Enter an http or https URL with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("The URL's port is not a number from 0 to 65535.") from exc
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"The host {parts.hostname!r} does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        refused = [a for a in addresses if not _public(a)]
        if refused:
            raise UnsafeURL(
                f"The host {parts.hostname!r} is or resolves to a non-public "
                f"address ({refused[0]})."
            )
    return parts.hostname, port, addresses[0]


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``host`` made to the address checked for it."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        """Connect to the checked address, not to whatever the host resolves to now."""
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """An HTTPS connection to the checked address, verifying the certificate of ``host``."""

    default_port = http.client.HTTPS_PORT

    def connect(self) -> None:
        """Connect to the checked address and verify the certificate of ``host``."""
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)
