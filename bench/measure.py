"""Measuring tools of the benchmark: process-tree memory, timed subprocesses, the machine.

Memory is the resident set size (RSS) read from ``/proc`` (Linux only), so
no extra package is needed. A sampler thread walks the process tree of a
child 10 times a second and keeps the peak of the tree's summed RSS, the
peak of each process and each process's CPU time as last seen. RSS counts shared pages once per process, so the sum
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
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_INTERVAL_SECONDS = 0.1


@dataclass
class _Peak:
    name: str
    rss: int = 0
    cpu_ticks: int = 0


@dataclass
class TreeSampler:
    """Sample the RSS of a process and all its descendants until stopped."""

    root: int
    interval: float = SAMPLE_INTERVAL_SECONDS
    peak_total: int = 0
    samples: int = 0
    peaks: Dict[int, _Peak] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The root's start time distinguishes it from a later process that
        # reuses its pid after it has exited.
        self._root_started = _start_time(self.root)
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
            "cpu_seconds": sum(peak.cpu_ticks for peak in self.peaks.values()) / _CLOCK_TICKS,
            "samples": self.samples,
            "interval_seconds": self.interval,
            "processes": [
                {"pid": pid, "name": peak.name, "peak_rss_bytes": peak.rss, "cpu_seconds": peak.cpu_ticks / _CLOCK_TICKS}
                for pid, peak in processes
            ],
        }

    def sample(self) -> None:
        """Take one sample now; nothing once the root has exited."""
        if _start_time(self.root) != self._root_started:
            return
        total = 0
        for pid in process_tree(self.root):
            rss = _rss(pid)
            if rss is None:
                continue
            total += rss
            peak = self.peaks.get(pid)
            if peak is None:
                peak = self.peaks[pid] = _Peak(_role(pid))
            peak.cpu_ticks = max(peak.cpu_ticks, _cpu_ticks(pid))
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


def _stat_fields(pid: int) -> Optional[List[bytes]]:
    """Return the fields of ``/proc/PID/stat`` after the command name (field 3 first)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses, so the
    # fields are counted from the last ")".
    return stat[stat.rindex(b")") + 2:].split()


def _parent(pid: int) -> Optional[int]:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def _start_time(pid: int) -> Optional[int]:
    """Return the start time of ``pid`` in clock ticks after boot (field 22), or None if it is gone."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _cpu_ticks(pid: int) -> int:
    """Return the user plus system CPU time of ``pid`` so far, in clock ticks (fields 14 and 15)."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


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
    cpu_seconds: float
    stdout: str
    stderr: str
    memory: Dict[str, object]


def run_measured(command: Sequence[str], *, env: Optional[Dict[str, str]] = None, timeout: float = 3600) -> ProcessResult:
    """Run ``command``, sampling its process tree's RSS, and return the result.

    ``cpu_seconds`` is the user and system CPU time of the process tree as
    last sampled, which grows much less than wall time when other work
    shares the cores.
    """
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
    seconds = time.perf_counter() - started
    return ProcessResult(process.returncode, seconds, float(memory["cpu_seconds"]), stdout, stderr, memory)


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
