"""Connections that send nothing useful must not pile up (slowloris).

uvicorn has no deadline for a request's head: a client that opens a connection and sends
half a header, or a byte every few seconds, holds it for ever, and about a thousand such
connections exhaust the worker's file descriptors. Here:
- the head of each request must arrive within `head_timeout` of the connection opening,
  or of the previous response ending on a kept-alive connection; after that the
  connection is closed (as nginx does: no answer, the client has not asked anything yet);
- at most `max_connections` are open at once; one more is answered 503 and closed as it
  arrives, so a flood costs one descriptor for an instant, never the worker;
- a request's head larger than MAX_HEAD_BYTES is answered 431 and the connection closed;
- one address holds at most `per_address` of them, so a client reconnecting in a loop
  cannot take every slot from the others. Loopback is not counted: a reverse proxy on
  this machine (which should limit per client itself) and the bots all come from there.
  Nor is a trusted proxy (`[worker] trusted_proxies`): it carries many clients, each
  rate-limited by the address its X-Forwarded-For names.
- a response must move: while the client reads none of it (asyncio has paused writing, its
  buffer over the high-water mark beyond what the kernel holds) for `write_timeout`, the
  connection is cut. uvicorn has no write deadline, and clients that send a request and
  never read its answer held their connections for ever, until they filled the cap.
The body has its own deadline, in the app (`BodyLimit` in app.py), which answers 408.

It is a small subclass of uvicorn's HTTP/1.1 protocol (httptools when installed, else
h11, as uvicorn's "auto" picks), built on what both have had since uvicorn 0.1x:
`connection_made`, `data_received`, `on_response_complete`, `connection_lost`,
`pause_writing`, `resume_writing`, and the `cycle` that a complete head creates. The
worker speaks no WebSocket (`ws="none"`), so no connection changes protocol under it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base
else:
    _Base = object

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A real client sends its head in one packet; 20 s covers a slow mobile link and is more
# than uvicorn's 5 s keep-alive, so an idle kept-alive connection still ends by that.
HEAD_TIMEOUT_SECONDS = 20.0
# A 2 MB body (the largest read) arrives in 60 s at 35 KB/s.
BODY_TIMEOUT_SECONDS = 60.0
# How long writing a response may stay paused (the client reading nothing of the last
# ~48 KB: asyncio's 64 KB high-water mark down to its 16 KB low one): as long as a body may
# take to arrive, which covers a mobile link's stall or handover. A reader of even 1 KB/s is
# never cut, nor is a stream that keeps flowing, however long.
WRITE_TIMEOUT_SECONDS = 60.0
# Open connections at once: far more than the queue and a batch can use, far fewer than a
# process may open (and never over half the descriptors it may open: macOS allows 256).
MAX_CONNECTIONS = 512
# Open connections from one (non-loopback) address at once.
MAX_PER_ADDRESS = 64
FULL_LOG_INTERVAL_SECONDS = 60.0

FULL_MESSAGE = "The worker has too many open connections; try again in a moment."
PER_ADDRESS_MESSAGE = "Too many open connections from your address; close some and try again."
# The most bytes a request's head may take (its line and headers): uvicorn's httptools
# parser has no cap, and a 100 MB header was read whole; h11's is 16 KiB, nginx's 8-32 KiB.
MAX_HEAD_BYTES = 64 * 1024
HEAD_TOO_LARGE_MESSAGE = "The request's headers are too large."
# How long a connection answered 431 still reads (and drops) what its client sends.
LINGER_SECONDS = 2.0


def _closing_response(message: str, status: str = "503 Service Unavailable") -> bytes:
    """A whole response with a JSON sentence, after which the connection closes."""
    body = json.dumps({"detail": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        + ("retry-after: 1\r\n" if status.startswith("503") else "")
        + "connection: close\r\n\r\n"
    )
    return head.encode() + body


def raise_open_file_limit() -> None:
    """Raise this process's soft limit on open descriptors to its hard limit, before the
    connection cap is read from it: a shell's `ulimit -n` or a service manager often
    sets a soft limit far under what may be had (1024 of 524288), and every connection,
    database handle and module a request imports takes one. Logged once, at INFO: `atri -v
    worker` shows it."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit is not one the kernel takes as a soft one (Linux's nr_open).
    if soft != hard and hard != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # macOS caps it below some hard limits: keep what we have
    shown = {resource.RLIM_INFINITY: "unlimited"}
    log.info("open descriptor limit: %s (hard %s)", shown.get(soft, soft), shown.get(hard, hard))


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """`wanted`, or half the descriptors this process may open if that is fewer."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to read
        return wanted
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if soft == resource.RLIM_INFINITY else max(1, min(wanted, soft // 2))


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout: float = HEAD_TIMEOUT_SECONDS
    write_timeout: float = WRITE_TIMEOUT_SECONDS
    # None: MAX_CONNECTIONS, or fewer where the process may open fewer descriptors.
    max_connections: int | None = None
    per_address: int = MAX_PER_ADDRESS
    # Count loopback connections too (tests: theirs all come from 127.0.0.1).
    count_loopback: bool = False
    # `[worker] trusted_proxies`: addresses or networks not counted ("*": none counted).
    trusted_proxies: tuple[str, ...] = ()
    # Which uvicorn HTTP/1.1 parser to build on; "auto" as uvicorn chooses.
    http: Literal["auto", "h11", "httptools"] = "auto"


class _Guarded(_Base):
    """The head and write deadlines and the connection cap, over either uvicorn HTTP/1.1
    protocol."""

    head_timeout: ClassVar[float]
    write_timeout: ClassVar[float]
    max_connections: ClassVar[int]
    per_address: ClassVar[int]
    count_loopback: ClassVar[bool]
    # Proxies whose connections are not counted; `every_proxy_trusted` for "*".
    trusted_networks: ClassVar[tuple[IPNetwork, ...]]
    every_proxy_trusted: ClassVar[bool]
    # Open connections by counted address; each class made by guarded_protocol has its own.
    open_by_address: ClassVar[Counter[str]]
    last_full_log: ClassVar[float] = 0.0
    _head_timer: asyncio.TimerHandle | None = None
    _write_timer: asyncio.TimerHandle | None = None  # armed while writing is paused
    _refused = False
    _address: str | None = None  # the counted address this connection holds a slot of
    _head_bytes = 0  # bytes read while the head of the next request is awaited
    _discarding = False  # answered 431: what the client still sends is dropped

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        address = self._counted_address(transport)
        if len(self.connections) >= self.max_connections:
            self._refuse(transport, FULL_MESSAGE, f"{len(self.connections)} connections are open")
            return
        if address is not None and self.open_by_address[address] >= self.per_address:
            self._refuse(transport, PER_ADDRESS_MESSAGE, f"{address} holds {self.per_address}")
            return
        if address is not None:
            self._address = address
            self.open_by_address[address] += 1
        super().connection_made(transport)
        self._head_due()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        self._writing_resumed()
        if self._address is not None:
            self.open_by_address[self._address] -= 1
            if self.open_by_address[self._address] <= 0:
                del self.open_by_address[self._address]
            self._address = None
        if not self._refused:  # uvicorn never saw a refused connection
            super().connection_lost(exc)

    def _counted_address(self, transport: asyncio.Transport) -> str | None:
        """The peer's IP address when its connections are counted (not loopback, unless
        the limits say so; not a trusted proxy; not a Unix socket)."""
        peer = transport.get_extra_info("peername")
        if not isinstance(peer, tuple) or not peer:
            return None
        host = str(peer[0])
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return None if self.every_proxy_trusted else host
        ip = getattr(ip, "ipv4_mapped", None) or ip  # ::ffff:127.0.0.1
        if self._is_trusted_proxy(ip) or (ip.is_loopback and not self.count_loopback):
            return None
        return host

    def _is_trusted_proxy(self, ip: IPAddress) -> bool:
        return self.every_proxy_trusted or any(ip in net for net in self.trusted_networks)

    def _refuse(self, transport: asyncio.Transport, message: str, why: str) -> None:
        """Answer 503 and close, before uvicorn sees the connection; logged once a minute."""
        self._refused = True
        transport.write(_closing_response(message))
        transport.close()
        now = time.monotonic()
        if now - type(self).last_full_log >= FULL_LOG_INTERVAL_SECONDS:
            type(self).last_full_log = now
            log.warning("%s: new connections get 503", why)

    def data_received(self, data: bytes) -> None:
        if self._refused or self._discarding:  # closing already: what it sent is dropped
            return
        before = self.cycle
        awaiting_head = self._head_timer is not None
        super().data_received(data)
        if self.cycle is not before:  # a whole head was read: a new request began
            self._head_arrived()
        elif awaiting_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._head_too_large()

    def _head_too_large(self) -> None:
        """Answer 431 and end the connection. Its writing side closes at once and what
        the client still sends is read and dropped for a moment: closed with its bytes
        unread, the connection was reset, and the client never read the 431."""
        self._head_arrived()
        self._discarding = True
        response = _closing_response(HEAD_TOO_LARGE_MESSAGE, "431 Request Header Fields Too Large")
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_response_complete(self) -> None:
        self._head_due()  # before uvicorn starts a pipelined request, which ends the wait
        before = self.cycle
        super().on_response_complete()
        if self.cycle is not before:
            self._head_arrived()

    def _head_due(self) -> None:
        self._head_arrived()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_overdue)

    def _head_arrived(self) -> None:
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.write_timeout, self._write_overdue)

    def resume_writing(self) -> None:
        self._writing_resumed()
        super().resume_writing()

    def _writing_resumed(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _write_overdue(self) -> None:
        """Cut a connection whose client has read (almost) nothing for `write_timeout`.
        Aborted, not closed: `close()` waits for the buffer to be sent, which is what never
        happens. The reply's task sees the client gone (a stream stops); its slot is free."""
        self._write_timer = None
        host = self.client[0] if self.client else "?"
        log.warning(
            "closing the connection of %s: it took too little of its reply for %g s (a "
            "client reading under about 1 KB/s, or not at all)",
            host,
            self.write_timeout,
        )
        self.transport.abort()

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the body and request deadlines apply
        if not self.transport.is_closing():
            log.debug("closing %s: no request head within %g s", self.client, self.head_timeout)
            self.transport.close()


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """The uvicorn HTTP protocol class to serve with (`uvicorn.Config(http=…)`)."""
    base = _http1_protocol(limits.http)
    cap = limits.max_connections or connection_cap()
    attributes = {
        "head_timeout": limits.head_timeout,
        "write_timeout": limits.write_timeout,
        "max_connections": cap,
        "per_address": limits.per_address,
        "count_loopback": limits.count_loopback,
        "trusted_networks": _networks(limits.trusted_proxies),
        "every_proxy_trusted": "*" in limits.trusted_proxies,
        "open_by_address": Counter(),
    }
    return type(f"Guarded{base.__name__}", (_Guarded, base), attributes)


def _networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The trusted proxies as networks ("10.0.0.5" is 10.0.0.5/32); "*" is not one."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies if p != "*")


def _http1_protocol(http: str) -> type[asyncio.Protocol]:
    """httptools when installed, else h11: as uvicorn's "auto" chooses, but chosen here, as
    a later uvicorn's auto may become a dispatcher without the methods `_Guarded` uses."""
    if http != "h11":
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        except ImportError:
            if http == "httptools":
                raise
        else:
            return HttpToolsProtocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol
