"""Services the tests reach over a real connection: Redis, and a TCP proxy to cut it off.

``redis_url()`` finds a Redis for the tests: ``CLUBGRAPH_TEST_REDIS_URL`` when set, else
one answering on 127.0.0.1:6379, else a ``redis-server`` started here on a free port
(``stop_started()`` stops it). With none of these the tests that need Redis are
skipped, except under CI (``CI=true``), where a missing Redis fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 6379
_started: list[subprocess.Popen[bytes]] = []


def _answers_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_redis(binary: str) -> str:
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _answers_ping("127.0.0.1", port):
            return f"redis://127.0.0.1:{port}/0"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop_started()
    _unavailable(f"{binary} did not start on port {port}")
    raise AssertionError("unreachable")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"Redis is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no Redis for these tests: {reason}")


def redis_url() -> str:
    """A Redis URL for the tests (see the module docstring)."""
    configured = os.environ.get("CLUBGRAPH_TEST_REDIS_URL", "").strip()
    if configured:
        return configured
    if _answers_ping(DEFAULT_HOST, DEFAULT_PORT):
        return f"redis://{DEFAULT_HOST}:{DEFAULT_PORT}/0"
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable(
            f"CLUBGRAPH_TEST_REDIS_URL is not set, nothing answers on "
            f"{DEFAULT_HOST}:{DEFAULT_PORT}, and redis-server is not installed"
        )
        raise AssertionError("unreachable")
    return _start_redis(binary)


def stop_started() -> None:
    """Stop the redis-server processes ``redis_url`` started."""
    while _started:
        process = _started.pop()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def with_address(url: str, host: str, port: int) -> str:
    """``url`` pointing at another host and port (credentials, database kept)."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


class TcpProxy:
    """Forwards a loopback port to a target; ``stop`` cuts every connection and stops
    listening, ``start`` listens on the same port again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._tasks.difference_update(pipes)
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()
