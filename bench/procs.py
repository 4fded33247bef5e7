"""Processes under test: start, wait for, stop, and measure them through /proc."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil  # type: ignore[import-untyped]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_base(offsets: Sequence[int] = (1, 2, 3, 4)) -> int:
    """A base whose ``base + offset`` ports are all free (the sandbox's --port-base)."""
    rnd = random.Random()
    for _ in range(200):
        base = rnd.randrange(20000, 60000, 10)
        if all(_bindable(base + o) for o in offsets):
            return base
    raise RuntimeError("no free port base found")


@dataclass
class Proc:
    """A process we started in its own session (so its whole tree stops with it)."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> Proc:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("wb")
        popen = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(name, popen, log_path, log)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group we started (its id is our child's pid), then SIGKILL."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        else:
            # The leader is gone; children left in its group go with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def tree(pid: int) -> list[int]:
    """``pid`` and every live descendant."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _stat_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of one process (the last two: its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw[raw.rindex(")") + 2 :].split()
    # Fields after the command name start at field 3 (state): utime is field 14.
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of the process tree rooted at ``pid``."""
    return sum(_stat_ticks(p) for p in tree(pid)) / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) summed over the process tree, in MB."""
    return sum(_status_kb(p, "VmHWM") for p in tree(pid)) / 1024


def rss_mb(pid: int) -> float:
    """VmRSS (resident set now) summed over the process tree, in MB."""
    return sum(_status_kb(p, "VmRSS") for p in tree(pid)) / 1024


def wait_until(
    check: Callable[[], object], timeout: float, what: str, proc: Proc | None = None
) -> None:
    """Call ``check()`` until it is truthy; raise after ``timeout`` or if ``proc`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{what}: process exited\n{proc.log_tail()}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.2)
    tail = proc.log_tail() if proc is not None else ""
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s\n{tail}")
