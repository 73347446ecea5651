"""Time `cdk synth` of every environment in cdk.json, warm, through the real CLI.

Each environment is synthesized once to warm up (staging bundled assets in
the output directory), then ``--repeat`` more times; the figures are the
medians of the timed runs, in wall-clock and in CPU seconds. Runs are offline and without AWS
credentials, as in CI.

    .venv/bin/python -m bench.synth_time --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
OUTDIR = REPO / "bench" / "work" / "cdk.out"


def environment_names() -> List[str]:
    """Return the environments defined in cdk.json, sorted."""
    context = json.loads((REPO / "cdk.json").read_text(encoding="utf-8"))["context"]
    return sorted(context["okeanos:environments"])


def synth_seconds(name: str, outdir: Path) -> Tuple[float, float]:
    """Run `npx cdk synth -c env=<name>` once; return its wall-clock and CPU seconds.

    CPU seconds are user plus system time of the CLI and every process it
    starts (Node.js, Python, the jsii kernel). On a machine shared with other
    work they change less than wall-clock time does.

    Raises
    ------
    RuntimeError
        If the synth fails, with the CLI's output.
    """
    npx = shutil.which("npx")
    if npx is None:
        raise RuntimeError("npx not found; install Node.js and run `npm ci`")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    command = [npx, "--no-install", "cdk", "synth", "-c", f"env={name}", "--quiet", "--no-notices", "-o", str(outdir)]
    cpu_before = _children_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu_seconds() - cpu_before
    if result.returncode != 0:
        raise RuntimeError(f"cdk synth -c env={name} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, cpu


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine() -> Dict[str, object]:
    """Describe the machine the figures come from: cores, memory, platform."""
    memory_gib: Optional[float] = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(),
        "memory_gib": memory_gib,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": load,
    }


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Time warm synths of the environments, print the result as JSON and return it."""
    parser = argparse.ArgumentParser(prog="bench.synth_time", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per environment after the warm-up (default 1)")
    parser.add_argument("--env", action="append", dest="envs", help="environment to time (default: every one)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, got {args.repeat}")
    names = args.envs or environment_names()

    OUTDIR.mkdir(parents=True, exist_ok=True)
    per_env: Dict[str, Dict[str, object]] = {}
    for name in names:
        warmup, _ = synth_seconds(name, OUTDIR)
        runs = [synth_seconds(name, OUTDIR) for _ in range(args.repeat)]
        per_env[name] = {
            "warmup_seconds": round(warmup, 2),
            "runs_seconds": [round(wall, 2) for wall, _ in runs],
            "median_seconds": round(statistics.median(wall for wall, _ in runs), 2),
            "median_cpu_seconds": round(statistics.median(cpu for _, cpu in runs), 2),
        }
    result: Dict[str, object] = {
        "benchmark": "cdk_synth_warm",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environments": per_env,
        "total_median_seconds": round(sum(float(v["median_seconds"]) for v in per_env.values()), 2),
        "total_median_cpu_seconds": round(sum(float(v["median_cpu_seconds"]) for v in per_env.values()), 2),
        "target_seconds_per_environment": 15,
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
