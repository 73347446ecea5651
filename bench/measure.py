"""Measuring tools of the benchmark: process-tree memory, timed subprocesses, the machine.

Memory is the resident set size (RSS) read from ``/proc`` (Linux only), so
no extra package is needed. A sampler thread walks the process tree of a
child 10 times a second and keeps the peak of the tree's summed RSS and the
peak of each process. RSS counts shared pages once per process, so the sum
is an upper bound of the memory the tree holds.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_INTERVAL_SECONDS = 0.1


@dataclass
class _Peak:
    name: str
    rss: int = 0


@dataclass
class TreeSampler:
    """Sample the RSS of a process and all its descendants until stopped."""

    root: int
    interval: float = SAMPLE_INTERVAL_SECONDS
    peak_total: int = 0
    samples: int = 0
    peaks: Dict[int, _Peak] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rss-sampler-{self.root}", daemon=True)

    def start(self) -> "TreeSampler":
        """Start sampling in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> Dict[str, object]:
        """Stop sampling and return the peaks (see :meth:`report`)."""
        self._stop.set()
        self._thread.join()
        return self.report()

    def report(self) -> Dict[str, object]:
        """Return the peak summed RSS and each process's peak, largest first, in bytes."""
        processes = sorted(self.peaks.items(), key=lambda item: -item[1].rss)
        return {
            "peak_total_rss_bytes": self.peak_total,
            "samples": self.samples,
            "interval_seconds": self.interval,
            "processes": [{"pid": pid, "name": peak.name, "peak_rss_bytes": peak.rss} for pid, peak in processes],
        }

    def sample(self) -> None:
        """Take one sample now."""
        total = 0
        for pid in process_tree(self.root):
            rss = _rss(pid)
            if rss is None:
                continue
            total += rss
            peak = self.peaks.get(pid)
            if peak is None:
                peak = self.peaks[pid] = _Peak(_role(pid))
            if rss > peak.rss:
                # Named again as it grows: spark-submit starts as bash and
                # execs into the JVM under the same pid.
                peak.rss = rss
                peak.name = _role(pid)
        self.peak_total = max(self.peak_total, total)
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def process_tree(root: int) -> List[int]:
    """Return ``root`` and every live descendant of it."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        parent = _parent(int(entry))
        if parent is not None:
            children.setdefault(parent, []).append(int(entry))
    out, pending = [], [root]
    while pending:
        pid = pending.pop()
        out.append(pid)
        pending.extend(children.get(pid, ()))
    return out


def _parent(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses, so the
    # fields are counted from the last ")".
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def _rss(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def _role(pid: int) -> str:
    """Name a process by what it is in a Spark run: the JVM, a Python worker, or its command."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        with open(f"/proc/{pid}/comm", "rb") as handle:
            comm = handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return "?"
    if comm == "java" and "org.apache.spark" in command:
        return "spark-jvm"
    if "pyspark.daemon" in command or "pyspark/daemon" in command:
        return "python-worker"
    if "pyspark/worker" in command or "pyspark.worker" in command:
        return "python-worker"
    if comm.startswith("python"):
        module = re.search(r"-m (\S+)", command)
        return f"python ({module.group(1)})" if module else "python"
    return comm


@dataclass
class ProcessResult:
    """A finished subprocess: exit code, wall time, output and memory peaks."""

    returncode: int
    seconds: float
    stdout: str
    stderr: str
    memory: Dict[str, object]


def run_measured(command: Sequence[str], *, env: Optional[Dict[str, str]] = None, timeout: float = 3600) -> ProcessResult:
    """Run ``command``, sampling its process tree's RSS, and return the result."""
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    sampler = TreeSampler(process.pid).start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    finally:
        memory = sampler.stop()
    return ProcessResult(process.returncode, time.perf_counter() - started, stdout, stderr, memory)


def machine() -> Dict[str, object]:
    """Describe the machine: cores, memory, CPU model, OS, Java, Spark, Python and DuckDB versions."""
    info: Dict[str, object] = {
        "cores": os.cpu_count(),
        "memory_bytes": _meminfo("MemTotal"),
        "cpu_model": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": _java_version(),
    }
    try:
        import pyspark

        info["spark"] = pyspark.__version__
    except ImportError:
        info["spark"] = None
    try:
        import duckdb

        info["duckdb"] = duckdb.__version__
    except ImportError:
        info["duckdb"] = None
    return info


def load_average() -> List[float]:
    """Return the 1, 5 and 15 minute load averages."""
    return [round(value, 2) for value in os.getloadavg()]


def _meminfo(key: str) -> Optional[int]:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cpu_model() -> Optional[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def _java_version() -> Optional[str]:
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    try:
        output = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (output.stderr or output.stdout).strip().splitlines()
    return lines[0] if lines else None
