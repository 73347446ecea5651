"""Cold start of the Lambda handler: import plus first invocation, time and peak memory.

``python -m bench.handler_cold_start [--runs N] [--quick]``

A moto server on 127.0.0.1 replaces AWS (EMR cluster, SNS topic, SQS
queues, DynamoDB table). Each run starts a fresh Python process that sees
only the handler's environment variables and ``AWS_ENDPOINT_URL``, so it
measures what a new Lambda execution environment does: import
``okeanos_handler.app``, then handle one SNS task message, which builds the
boto3 clients and submits one EMR step. The process reports its own times
CPU time and peak RSS (``VmHWM``, which includes the interpreter itself).

Goals, read against the output and not enforced: import plus first
invocation under 300 ms, peak RSS under 128 MB (the smallest Lambda size
okeanos is meant to run in).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
GOAL_MILLISECONDS = 300
GOAL_PEAK_RSS_MB = 128

# The child process: everything it times happens after the interpreter started.
_CHILD = r"""
def peak_rss_mb():
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across execve, so it would
    # report the parent's peak (the moto server's) rather than this process's.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
import json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import okeanos_handler.app as app
imported = time.perf_counter()
result = app.handler(json.loads(sys.argv[1]), None)
invoked, cpu_invoked = time.perf_counter(), time.process_time()
sys.stdout.flush()
print("RESULT " + json.dumps({
    "import_ms": (imported - started) * 1000,
    "first_invocation_ms": (invoked - imported) * 1000,
    "cpu_ms": (cpu_invoked - cpu_started) * 1000,
    "peak_rss_mb": peak_rss_mb(),
    "outcomes": result["outcomes"],
}))
"""


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark and return its figures (also printed as JSON)."""
    parser = argparse.ArgumentParser(prog="bench.handler_cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to measure (default 5)")
    parser.add_argument("--quick", action="store_true", help="3 runs instead of the default")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else args.runs

    import logging

    from moto.server import ThreadedMotoServer

    # The moto server logs every request at INFO; only the JSON result is wanted.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = _handler_environment(endpoint)
        samples = [_measure_once(env, n) for n in range(runs)]
    finally:
        server.stop()

    totals = [sample["import_ms"] + sample["first_invocation_ms"] for sample in samples]
    result: Dict[str, Any] = {
        "benchmark": "handler_cold_start",
        "runs": runs,
        "import_ms_median": round(statistics.median(s["import_ms"] for s in samples), 1),
        "first_invocation_ms_median": round(statistics.median(s["first_invocation_ms"] for s in samples), 1),
        "total_ms_median": round(statistics.median(totals), 1),
        "total_ms_max": round(max(totals), 1),
        # CPU time of import plus first invocation: less sensitive than wall
        # time to other load on a shared machine.
        "total_cpu_ms_median": round(statistics.median(s["cpu_ms"] for s in samples), 1),
        "peak_rss_mb_max": round(max(s["peak_rss_mb"] for s in samples), 1),
        "goals": {"total_ms": GOAL_MILLISECONDS, "peak_rss_mb": GOAL_PEAK_RSS_MB},
        "outcomes": sorted({outcome for s in samples for outcome in s["outcomes"]}),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    return result


def _handler_environment(endpoint: str) -> Dict[str, str]:
    """Create the AWS resources on the moto server; return the handler's environment."""
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    emr = session.client("emr", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    cluster_id = emr.run_job_flow(
        Name="bench",
        ReleaseLabel="emr-7.12.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    session.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName="okeanos-state",
        KeySchema=[{"AttributeName": "task", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "task", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    from okeanos_handler import config

    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "spark"), str(ROOT / "lambda_src")]),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "okeanos",
        config.CLUSTER_ID: cluster_id,
        config.TASK_TOPIC_ARN: session.client("sns", endpoint_url=endpoint).create_topic(Name="okeanos-tasks")["TopicArn"],
        config.DELAY_QUEUE_URL: sqs.create_queue(QueueName="okeanos-delay")["QueueUrl"],
        config.DEAD_LETTER_QUEUE_URL: sqs.create_queue(QueueName="okeanos-dead-letters")["QueueUrl"],
        config.STATE_TABLE: "okeanos-state",
        config.JOB_PACKAGE_URI: "s3://okeanos-assets/okeanos-jobs.zip",
        config.ENTRY_SCRIPT_URI: "s3://okeanos-assets/okeanos_main.py",
    }


def _measure_once(env: Dict[str, str], run: int) -> Dict[str, Any]:
    message = {
        "version": 1,
        "task": f"bench-{run}",
        "job": "http_status_hourly",
        "input": {"uri": "s3://example-logs/apache/", "format": "combined"},
        "window": {"runasof": "now", "lastnhours": 1},
    }
    event = {"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:okeanos-tasks:bench",
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1", "Timestamp": "2026-01-01T00:00:00.000Z", "Signature": "bench",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/bench.pem", "MessageId": f"bench-{run}",
            "Message": json.dumps(message), "MessageAttributes": {}, "Type": "Notification",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "TopicArn": env["OKEANOS_TASK_TOPIC_ARN"], "Subject": None,
        },
    }]}
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(event)], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"handler process failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main(sys.argv[1:])
