"""Binding a listening socket before serving, for `atri worker` and the QQ adapter: a
socket that cannot be bound is one sentence naming the setting to change (the port only
when it is the port), not uvicorn's exit."""

from __future__ import annotations

import errno
import socket
import sys

from atri.accept_pause import PausingListener
from atri.config import ConfigError

# The names of this machine only: a server listening on one is reached from nowhere else.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Connections that wait for the server to start accepting (uvicorn's own backlog): those
# made to `atri worker` while the model loads are answered once it serves, not refused.
BACKLOG = 2048


def is_loopback(host: str) -> bool:
    """Whether a listen address (`[::1]` as a URL writes it, too) is this machine only."""
    return host.strip().strip("[]").lower() in LOOPBACK


def bind_listening_socket(
    host: str,
    port: int,
    section: str,
    flags: bool = False,
    kind: type[socket.socket] = PausingListener,
    listening: bool = True,
) -> socket.socket:
    """A TCP socket listening on host:port, not yet accepting. `section`: the config section
    whose `host` and `port` these are; `flags`: the command also takes --host / --port;
    `kind`: the socket class to make (a subclass of socket.socket); by default one that
    out of descriptors fails one accept a second, not thousands (`accept_pause`).
    Not `listening`: only bound (a port another program listens on is still refused
    here), connections refused until `start_listening`, for a client that gives up on
    one not answered at once and would be served its stale handshake later (QQ's OneBot
    implementation, which retries every few seconds)."""
    # "[::1]" is how URLs (and the worker's own listening line) write an IPv6 address.
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it a keep-alive response stalls ~40 ms on the peer's delayed ACK.
    sock = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # A restart may take the port of a run whose connections are still closing; not on
    # Windows, where SO_REUSEADDR lets a second program bind a port in use (as asyncio).
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening at once: two sockets with SO_REUSEADDR both bind a port while neither
        # listens, so a second `atri worker` on it loaded its model and only failed at
        # uvicorn's listen, minutes later, in a traceback.
        if listening:
            sock.listen(BACKLOG)
    except (OSError, ValueError, TypeError) as exc:  # TypeError: a NUL in the host
        sock.close()
        raise ConfigError(_cannot_listen(host, port, exc, section, flags)) from None
    return sock


def start_listening(sock: socket.socket, section: str) -> None:
    """`sock`, bound by `bind_listening_socket` without `listening`, listens now; the
    port taken meanwhile (another process bound it too while neither listened) is the
    same sentence as at the bind. `sock` stays open either way: its owner closes it."""
    host, port = sock.getsockname()[:2]
    try:
        sock.listen(BACKLOG)
    except OSError as exc:
        raise ConfigError(_cannot_listen(host, port, exc, section, False)) from None


def _cannot_listen(host: str, port: int, exc: Exception, section: str, flags: bool) -> str:
    where = f"Cannot listen on {host}:{port}"
    port_key, host_key = f"[{section}] port", f"[{section}] host"
    if flags:
        port_key, host_key = f"{port_key} (or --port)", f"{host_key} (or --host)"
    code = getattr(exc, "errno", None)
    if code == errno.EADDRINUSE:
        free = "; 0 takes any free one" if flags else ""
        return f"{where}: another program is using that port; choose another {port_key}{free}."
    if code == errno.EACCES and 0 < port < 1024:
        return (
            f"{where}: ports below 1024 need administrator rights; choose a {port_key} above 1023."
        )
    if isinstance(exc, socket.gaierror | TypeError | ValueError) or code == errno.EADDRNOTAVAIL:
        return (
            f"Cannot listen on {host!r}: it is not an address of this machine; set {host_key} "
            "to 127.0.0.1 for this machine only, or 0.0.0.0 for every network interface."
        )
    reason = getattr(exc, "strerror", None) or exc
    return f"{where} ({reason}); check [{section}] host and port."
