"""Child processes of the local stack: started with their own log file, stopped with SIGTERM
(then SIGKILL after a grace period), and restarted by the supervisor when they die."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ManagedProcess:
    """One supervised child process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    restart: bool = True
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    stopping: bool = False
    _next_restart: float = field(default=0.0, repr=False)

    def start(self) -> None:
        """Starts the process, appending its output to its log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.stopping = False

    @property
    def pid(self) -> int | None:
        """The running process id, if any."""
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Sends a signal to the process (not to be restarted when it is SIGTERM/SIGKILL by us)."""
        if self.alive() and self.process is not None:
            self.process.send_signal(sig)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait up to `grace` seconds, then SIGKILL the whole process group."""
        self.terminate()
        self.wait_stopped(grace)

    def terminate(self) -> None:
        """SIGTERM (not to be restarted), without waiting: several replicas drain at once."""
        self.stopping = True
        if self.alive() and self.process is not None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, grace: float = 10.0) -> None:
        """Waits up to `grace` seconds for the process to end, then SIGKILLs its process group."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


class Supervisor:
    """Restarts processes that die while the stack is up (after a short, growing delay)."""

    def __init__(self, processes: dict[str, ManagedProcess], *, delay: float = 1.0) -> None:
        self._processes = processes
        self._delay = delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)

    def start(self) -> None:
        """Starts watching in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stops watching (does not stop the processes)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            for proc in list(self._processes.values()):
                if not proc.restart or proc.stopping or proc.alive() or proc.process is None:
                    continue
                if proc._next_restart == 0.0:
                    proc._next_restart = now + min(self._delay * (2 ** min(proc.restarts, 4)), 15.0)
                elif now >= proc._next_restart:
                    proc.restarts += 1
                    proc._next_restart = 0.0
                    proc.start()
