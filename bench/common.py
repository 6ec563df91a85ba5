"""What every benchmark needs: the machine, a timed subprocess with its peak memory, the results file."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {system}, Python {platform.python_version()}"


def _tree_rss_kb(root: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            match = re.search(r"VmRSS:\s+(\d+)", status)
            total += int(match.group(1)) if match else 0
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(c) for c in children)
        except (OSError, ValueError):
            continue
    return total


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    output: str


def timed_run(args: list[str], env: dict[str, str] | None = None, sample_every: float = 0.1) -> Run:
    """Run a command, measuring wall time and the peak resident memory of its whole process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    return Run(time.perf_counter() - started, peak / 1024, proc.returncode, output)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section ``name`` of bench/RESULTS.md."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    block = f"{begin}\n{body.rstrip()}\n\n_Measured {date.today().isoformat()} on {machine()}._\n{end}\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) + 1 :]
    else:
        text = text.rstrip() + "\n\n" + block
    RESULTS.write_text(text, encoding="utf-8")


KEYS = OUT / "keys"


def auth_env() -> dict[str, str]:
    """The settings a benchmarked server needs to accept :func:`auth_header` (the local demo issuer's key
    in ``bench/out/keys``), with rate limits off: a benchmark measures the work, not the budget."""
    from security.checkpoints import create_signing_key
    from security.tokens import init_keys

    if not (KEYS / "jwks.json").exists():
        init_keys(KEYS)
    if not (KEYS / "audit-ed25519.pem").exists():
        create_signing_key(KEYS / "audit-ed25519.pem")
    return {
        "OVERSIGHT_AUTH_KEYS_DIR": str(KEYS),
        "OVERSIGHT_AUTH_JWKS_FILE": str(KEYS / "jwks.json"),
        "OVERSIGHT_RATELIMIT_ENABLED": "false",
        "OVERSIGHT_AUDIT_SIGNING_KEY": str(KEYS / "audit-ed25519.pem"),
        "OVERSIGHT_AUDIT_CHECKPOINT_DIR": str(OUT / "audit-checkpoints"),
    }


def auth_header(body: str = "congress", region: str = "410000000") -> dict[str, str]:
    """A bearer token of the local demo issuer, valid for a day."""
    from security.tokens import AuthSettings, mint

    auth_env()
    settings = AuthSettings(keys_dir=KEYS, jwks_file=KEYS / "jwks.json")
    token = mint(KEYS, body=body, region=region, ttl_seconds=86400, settings=settings)
    return {"Authorization": f"Bearer {token}"}
