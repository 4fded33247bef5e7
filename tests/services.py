"""Services the tests reach over a real connection: Redis, PostgreSQL, and a TCP proxy
to cut a connection off.

``redis_url()`` finds a Redis for the tests: ``CLUBGRAPH_TEST_REDIS_URL`` when set, else
one answering on 127.0.0.1:6379, else a ``redis-server`` started here on a free port
(``stop_started()`` stops it). ``database_url()`` finds a PostgreSQL the same way:
``CLUBGRAPH_TEST_DATABASE_URL``, else postgresql://127.0.0.1:5432/test, else a
``postgres`` initialised into a temporary directory and started here (stopped when the
tests end); ``fresh_database()`` gives a test a schema of its own in it, dropped after.
With none of these the tests that need the service are skipped, except under CI
(``CI=true``), where a missing service fails the run.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
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


def _unavailable(reason: str, service: str = "Redis") -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{service} is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no {service} for these tests: {reason}")


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


# --- PostgreSQL ---------------------------------------------------------------------

PG_HOST, PG_PORT = "127.0.0.1", 5432
_database: list[str] = []  # the URL found or started, once per test process


def _answers_postgres(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a PostgreSQL server answers there (its reply to an SSLRequest)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!ii", 8, 80877103))
            return sock.recv(1) in (b"S", b"N")
    except OSError:
        return False


def _start_postgres(binary: str) -> str:
    """A ``postgres`` of its own in a temporary directory (as the ``postgres`` user when
    run as root, which PostgreSQL refuses to run as); stopped at exit."""
    bindir = os.path.dirname(binary)
    initdb = shutil.which("initdb", path=bindir) or shutil.which("initdb")
    if initdb is None:
        _unavailable(f"{binary} has no initdb beside it", "PostgreSQL")
    as_user: list[str] = []
    data = tempfile.mkdtemp(prefix="clubgraph-pg-")
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            _unavailable("running as root without runuser to start postgres", "PostgreSQL")
        as_user = [str(runuser), "-u", "postgres", "--"]
        shutil.chown(data, "postgres")
    subprocess.run(
        [*as_user, str(initdb), "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    process = subprocess.Popen(
        [*as_user, binary, "-D", data, "-p", str(port), "-h", "127.0.0.1", "-k", data],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def stop() -> None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
        shutil.rmtree(data, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _answers_postgres("127.0.0.1", port):
            return f"postgresql://postgres@127.0.0.1:{port}/postgres"
        if process.poll() is not None:
            break
        time.sleep(0.1)
    _unavailable(f"{binary} did not start on port {port}", "PostgreSQL")
    raise AssertionError("unreachable")


def database_url() -> str:
    """A PostgreSQL URL for the tests (see the module docstring)."""
    if _database:
        return _database[0]
    url = os.environ.get("CLUBGRAPH_TEST_DATABASE_URL", "").strip()
    if not url and _answers_postgres(PG_HOST, PG_PORT):
        url = f"postgresql://{PG_HOST}:{PG_PORT}/test"
    if not url:
        binary = shutil.which("postgres")
        if binary is None:
            _unavailable(
                f"CLUBGRAPH_TEST_DATABASE_URL is not set, nothing answers on "
                f"{PG_HOST}:{PG_PORT}, and postgres is not installed",
                "PostgreSQL",
            )
            raise AssertionError("unreachable")
        url = _start_postgres(binary)
    _database.append(url)
    return url


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections work in ``schema`` (asyncpg passes the query's
    parameters as server settings)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"search_path={schema}") if q)
    return urlunsplit(parts._replace(query=query))


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """A schema of this test's own in the tests' PostgreSQL (parallel runs never share
    tables); the URL that works in it. The schema is dropped afterwards."""
    import asyncpg

    url = database_url()
    schema = f"clubgraph_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_schema(url, schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


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
