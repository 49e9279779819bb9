"""The default worker fleet, `python -m worker.fleet`: an interactive worker beside a general one, supervised.

One worker for every queue makes a person's upload wait for the batch slice that is running; a worker of its
own for the single-upload queue never has a slice to wait for. The general worker still takes every queue
(uploads too, when the interactive one is busy) and runs at a lower CPU priority, so when both compute the
interactive one gets the cores. Each worker is a child process in a process group of its own (its pool
processes and exiftool with it), so that whatever it leaves behind is killed with its group. If one child
stops, the fleet stops the others and exits non-zero: its supervisor (Compose's `restart`, systemd) starts
it again whole, rather than a fleet running on without its interactive pool.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from shared.settings import Settings

log = logging.getLogger("worker.fleet")
POLL_S = 0.2  # how often the children are checked: a dead pool is noticed this fast


@dataclass(frozen=True)
class Pool:
    """One Celery worker of the fleet: what it consumes, with how many pool processes, at what nice."""

    name: str
    queues: tuple[str, ...]
    concurrency: int
    nice: int


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the machine's count)."""
    return len(os.sched_getaffinity(0))


def plan(settings: Settings, n_cores: int) -> list[Pool]:
    """The pools for these settings on n_cores: WORKER_INTERACTIVE=0 (or no upload queue consumed) is one worker."""
    queues = tuple(settings.consumed_queues)
    interactive = settings.worker_interactive if settings.queue in queues else 0
    general = settings.worker_concurrency or max(1, n_cores - interactive)
    if not interactive:
        return [Pool("worker", queues, general, 0)]
    return [Pool("interactive", (settings.queue,), interactive, 0), Pool("general", queues, general, settings.bulk_nice)]


def command(pool: Pool, tag: str) -> list[str]:
    """The worker's command line; the hostname names the pool (it is in the leases and the heartbeats)."""
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--loglevel=INFO",
            f"--concurrency={pool.concurrency}", f"--hostname={pool.name}-{tag}@%h"]


class Fleet:
    """The children, started together and stopped together."""

    def __init__(self, pools: list[Pool]):
        self.pools = pools
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.interrupts = 0

    def start(self) -> None:
        """Each pool as a child in its own process group, WORKER_QUEUES naming its queues (the tasks read it)."""
        for pool in self.pools:
            if self.stopping:  # a signal came while starting: start nothing more
                break
            env = dict(os.environ, WORKER_QUEUES=",".join(pool.queues))
            niced = (lambda n=pool.nice: os.nice(n)) if pool.nice else None  # the pool processes inherit it
            child = subprocess.Popen(command(pool, str(os.getpid())), env=env, process_group=0, preexec_fn=niced)
            self.children[pool.name] = child
            log.info("pool %s (pid %d): queues %s, concurrency %d, nice %d", pool.name, child.pid,
                     ",".join(pool.queues), pool.concurrency, pool.nice)

    def signal_all(self, signum: int) -> None:
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signum)

    def on_signal(self, signum: int, _frame: object) -> None:
        """SIGTERM/SIGINT: warm shutdown of every worker (running jobs finish); a second Ctrl-C: cold, as Celery's."""
        self.interrupts += signum == signal.SIGINT
        if not self.stopping:
            log.info("fleet: %s, stopping every pool (warm shutdown)", signal.Signals(signum).name)
        self.stopping = True
        self.signal_all(signal.SIGQUIT if self.interrupts > 1 else signal.SIGTERM)

    def run(self) -> int:
        """Until a signal or a child's exit; 0 after a requested stop, 1 when a pool stopped by itself."""
        while not self.stopping:
            dead = [(name, c.returncode) for name, c in self.children.items() if c.poll() is not None]
            if dead:
                log.error("fleet: pool %s exited (code %s); stopping the others", *dead[0])
                self.stopping = True
                self.signal_all(signal.SIGTERM)
                self.wait()
                return 1
            time.sleep(POLL_S)
        self.wait()
        return 0

    def wait(self) -> None:
        """Every worker gone, then whatever its group still holds (pool processes, exiftool) killed."""
        for child in self.children.values():
            child.wait()
        for child in self.children.values():
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):  # the group is empty: nothing was left behind
                pass


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s: %(levelname)s/fleet] %(message)s")
    settings = Settings.from_env()
    n = cores()
    fleet = Fleet(plan(settings, n))
    log.info("fleet: %d cores, %d pools", n, len(fleet.pools))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, fleet.on_signal)
    fleet.start()
    return fleet.run()


if __name__ == "__main__":
    sys.exit(main())
