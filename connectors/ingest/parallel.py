"""Loading one large file with several processes, each taking a slice of its lines.

Python parses a feed row in microseconds but not in nanoseconds; a province's payments need every core. A
quote-free CSV or a JSONL file splits at line boundaries into slices, and each slice runs the same chunk
pipeline as a serial load with its own connection: the first in the loading process itself, each other one
in a process of its own. Load-order semantics survive the
split: two versions of a record with the same ``update_time`` are ordered by their line in the file, which
every process compares (see :mod:`connectors.ingest.merge`); SQLite serialises the writers, and on
PostgreSQL a chunk that collides with another process's insert is simply applied again.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from queue import Empty
from typing import Any

from connectors.ingest.merge import Counts
from connectors.ingest.readers import ByteRange

PARALLEL_BYTES = 16 << 20  # files smaller than this load in-process
_SCAN = 1 << 22


def split_ranges(path: Path, fmt: str, parts: int) -> list[ByteRange] | None:
    """Slices of the file's data lines, or None when it cannot be split (a quoted CSV field may span
    lines; XLSX is not line-oriented)."""
    if fmt not in ("csv", "jsonl") or parts < 2:
        return None
    size = path.stat().st_size
    with path.open("rb") as fh:
        if fmt == "csv":
            while block := fh.read(_SCAN):
                if b'"' in block:
                    return None
            fh.seek(0)
            fh.readline()  # the header
        start = fh.tell()
        cuts = [start]
        for k in range(1, parts):
            fh.seek(max(start + (size - start) * k // parts, cuts[-1]))
            fh.readline()  # move to the next line boundary
            cuts.append(fh.tell())
        cuts.append(size)
        first_lines, line, pos = [], 2 if fmt == "csv" else 1, start
        fh.seek(start)
        for cut in cuts[:-1]:
            while pos < cut:
                block = fh.read(min(_SCAN, cut - pos))
                line += block.count(b"\n")
                pos += len(block)
            first_lines.append(line)
    ranges = [ByteRange(a, b, n) for a, b, n in zip(cuts, cuts[1:], first_lines, strict=False) if b > a]
    return ranges if len(ranges) > 1 else None


def _die_with_parent() -> None:
    """A worker must not outlive a killed ``oversight load`` (Linux: PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _worker(job: dict[str, Any], queue: Any) -> None:
    _die_with_parent()
    from connectors.ingest.loader import load_slice

    try:
        counts, unknown = load_slice(job, lambda read: queue.put(("progress", read)))
        queue.put(("done", asdict(counts), sorted(unknown)))
    except BaseException:  # reported to the parent, which fails the load
        queue.put(("error", traceback.format_exc()))


def run_parallel(jobs: list[dict[str, Any]], on_progress: Callable[[int], None]) -> tuple[Counts, set[str]]:
    """Run the first job in this process and one worker process for each of the others; returns the
    summed counts and unknown columns. (This process would otherwise only wait: a process fewer is some
    hundred MB less.)"""
    from connectors.ingest.loader import load_slice

    ctx = mp.get_context("spawn")  # no fork: the parent may hold threads and open connections
    queue = ctx.Queue()
    if jobs and str(jobs[0]["url"]).startswith("sqlite"):
        lock = ctx.Lock()  # SQLite has one writer at a time: hand the turn over without sleeping
        jobs = [{**job, "lock": lock} for job in jobs]
    procs = [ctx.Process(target=_worker, args=(job, queue), daemon=True) for job in jobs[1:]]
    for p in procs:
        p.start()
    total, unknown, finished, read = Counts(), set(), 0, 0

    def handle(message: tuple[Any, ...]) -> None:
        nonlocal finished, read
        kind = message[0]
        if kind == "progress":
            read += message[1]
            on_progress(read)
        elif kind == "done":
            total.add(Counts(**message[1]))
            unknown.update(message[2])
            finished += 1
        else:
            raise RuntimeError(f"a loader process failed:\n{message[1]}")

    def check_workers() -> None:
        dead = [p for p in procs if p.exitcode not in (None, 0)]
        if dead:
            raise RuntimeError(f"a loader process died (exit code {dead[0].exitcode})")

    def own_progress(n: int) -> None:  # between chunks of this process's own slice: hear the others
        handle(("progress", n))
        with contextlib.suppress(Empty):
            while True:
                handle(queue.get_nowait())
        check_workers()

    try:
        counts, own_unknown = load_slice(jobs[0], own_progress)
        handle(("done", asdict(counts), sorted(own_unknown)))
        while finished < len(jobs):
            try:
                message = queue.get(timeout=1.0)
            except Empty:
                check_workers()
                continue
            handle(message)
    finally:
        for p in procs:
            if p.is_alive() and finished < len(jobs):
                p.kill()
            p.join(timeout=10)
    return total, unknown
