"""Checking a port before a server binds it, so "address in use" is one line and not a traceback."""

from __future__ import annotations

import errno
import socket

from llmedge.cli import CommandError


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(f"port {port} on {host} is already in use (try --port)") from None
            raise CommandError(f"cannot bind {host}:{port}: {error.strerror}") from None
