"""Rendering of drawn web events as log lines, one function per format.

Each renderer turns :class:`~okeanos.generate.web_pools.Events` into a list
of lines (without newlines) in the layout its source writes:

- ``combined``: Apache/Nginx combined log format, ``-`` for zero bytes;
- ``nginx-json``: one JSON object per line with ``time``, ``remote_ip``,
  ``remote_user``, ``request``, ``response`` and ``bytes`` (numbers),
  ``referrer`` and ``agent``;
- ``alb``: Application Load Balancer access log, with the fields added
  after 2018 at the end of the line;
- ``cloudfront``: CloudFront standard log, 33 tab-separated fields, each
  file starting with ``#Version`` and ``#Fields`` lines;
- ``s3-access``: S3 server access log, ``-`` for zero bytes sent.

Field layouts follow the AWS documentation examples in
``shared/data/real/aws-doc-samples`` and the combined and Nginx JSON samples
beside them.
"""

from __future__ import annotations

import base64
import random
import time
from datetime import datetime
from typing import Callable, Dict, List

from okeanos.generate.web_pools import Events, WebPools, json_strings, url_encoded

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HOST = "www.example.com"
_ACCOUNT = "123456789012"
_ALB_NAME = "app/okeanos-web/50dc6c495c0c9188"
_TARGET_GROUP = f"arn:aws:elasticloadbalancing:us-east-2:{_ACCOUNT}:targetgroup/okeanos-web/73e2d6bc24d8a067"
_CERTIFICATE = f"arn:aws:acm:us-east-2:{_ACCOUNT}:certificate/12345678-1234-1234-1234-123456789012"
_BUCKET = "okeanos-example-bucket"
_BUCKET_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
_EDGES = ("LAX1", "SEA19-C1", "FRA56-P4", "IAD89-C2", "NRT57-C3", "GRU3-C1")
_S3_OPERATIONS = {
    "GET": "REST.GET.OBJECT", "HEAD": "REST.HEAD.OBJECT", "PUT": "REST.PUT.OBJECT",
    "POST": "REST.POST.UPLOAD", "DELETE": "REST.DELETE.OBJECT", "OPTIONS": "REST.OPTIONS.PREFLIGHT",
}
_S3_ERRORS = {403: "AccessDenied", 404: "NoSuchKey", 400: "InvalidRequest", 401: "AccessDenied",
              500: "InternalError", 502: "InternalError", 503: "SlowDown", 504: "InternalError"}
CLOUDFRONT_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
    "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
)
# Lines that are not log lines at all, as they turn up in real access logs
# (a stray request line, a TLS handshake written as text, an error message).
_GARBAGE = (
    "GET / HTTP/1.1",
    "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03",
    "upstream timed out (110: Connection timed out) while reading response header",
    '{"message": "client closed connection"}',
)


class _Stamps(dict):
    """Cache of formatted times by epoch second; a file spans a few thousand seconds at most."""

    def __init__(self, render: Callable[[int], str]) -> None:
        super().__init__()
        self.render = render

    def __missing__(self, second: int) -> str:
        text = self[second] = self.render(second)
        return text


def _apache_time(second: int) -> str:
    t = time.gmtime(second)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _iso_time(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _tab_time(second: int) -> str:
    return time.strftime("%Y-%m-%d\t%H:%M:%S", time.gmtime(second))


def render_combined(events: Events, pools: WebPools, rng: random.Random) -> List[str]:
    """Render Apache/Nginx combined log lines."""
    stamp = _Stamps(_apache_time)
    ips, agents, protocols = pools.client_ips, pools.agents, pools.protocols
    client_agents, client_protocols = pools.client_agents, pools.client_protocols
    paths, methods, status_text, referrers = pools.paths, pools.methods, pools.status_text, pools.referrers
    return [
        f'{ips[c]} - - [{stamp[t]}] "{methods[m]} {paths[p]} {protocols[client_protocols[c]]}" '
        f'{status_text[s]} {b or "-"} "{referrers[r]}" "{agents[client_agents[c]]}"'
        for t, c, p, m, s, b, r in zip(
            events.seconds, events.clients, events.paths, events.methods,
            events.statuses, events.sizes, events.referrers,
        )
    ]


def render_nginx_json(events: Events, pools: WebPools, rng: random.Random) -> List[str]:
    """Render Nginx access log lines as JSON objects, ``response`` and ``bytes`` as numbers."""
    stamp = _Stamps(_apache_time)
    ips, protocols = pools.client_ips, pools.protocols
    agents = json_strings(pools.agents)
    paths = json_strings(pools.paths)
    referrers = json_strings(pools.referrers)
    client_agents, client_protocols = pools.client_agents, pools.client_protocols
    methods, status_text = pools.methods, pools.status_text
    return [
        f'{{"time": "{stamp[t]}", "remote_ip": "{ips[c]}", "remote_user": "-", '
        f'"request": "{methods[m]} {paths[p]} {protocols[client_protocols[c]]}", '
        f'"response": {status_text[s]}, "bytes": {b}, "referrer": "{referrers[r]}", '
        f'"agent": "{agents[client_agents[c]]}"}}'
        for t, c, p, m, s, b, r in zip(
            events.seconds, events.clients, events.paths, events.methods,
            events.statuses, events.sizes, events.referrers,
        )
    ]


def render_alb(events: Events, pools: WebPools, rng: random.Random) -> List[str]:
    """Render Application Load Balancer access log lines (IPv4 clients only)."""
    stamp = _Stamps(_iso_time)
    ips, agents, protocols = pools.client_ips, pools.agents, pools.protocols
    client_agents, client_protocols = pools.client_agents, pools.client_protocols
    paths, methods, status_text = pools.paths, pools.methods, pools.status_text
    random_, bits = rng.random, rng.getrandbits
    lines = []
    for t, c, p, m, s, b in zip(
        events.seconds, events.clients, events.paths, events.methods, events.statuses, events.sizes
    ):
        status = status_text[s]
        protocol = protocols[client_protocols[c]]
        kind = "h2" if protocol == "HTTP/2.0" else "https"
        target = f"10.0.{bits(8)}.{bits(8)}:8080"
        if status in ("502", "503", "504"):
            # The load balancer sent the response itself, so no target responded.
            target_status, target_time = "-", "-1"
        else:
            target_status, target_time = status, f"{random_() * 0.4:.3f}"
        when = f"{stamp[t]}.{bits(20) % 1000000:06d}Z"
        lines.append(
            f'{kind} {when} {_ALB_NAME} {ips[c]}:{1024 + bits(15)} {target} 0.000 {target_time} 0.000 '
            f'{status} {target_status} {200 + bits(9)} {b} '
            f'"{methods[m]} https://{_HOST}:443{paths[p]} {protocol}" "{agents[client_agents[c]]}" '
            f'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 {_TARGET_GROUP} '
            f'"Root=1-{t:08x}-{bits(96):024x}" "{_HOST}" "{_CERTIFICATE}" 0 {when} '
            f'"forward" "-" "-" "{target}" "{target_status}" "-" "-" TID_{bits(128):032x}'
        )
    return lines


def render_cloudfront(events: Events, pools: WebPools, rng: random.Random) -> List[str]:
    """Render CloudFront standard log lines (tab-separated; the header comes from :func:`header`)."""
    stamp = _Stamps(_tab_time)
    ips, protocols = pools.client_ips, pools.protocols
    agents = url_encoded(pools.agents)
    client_agents, client_protocols = pools.client_agents, pools.client_protocols
    stems = [p.split("?", 1)[0] for p in pools.paths]
    queries = [p.split("?", 1)[1] if "?" in p else "-" for p in pools.paths]
    methods, status_text, referrers = pools.methods, pools.status_text, pools.referrers
    random_, bits, randbytes = rng.random, rng.getrandbits, rng.randbytes
    lines = []
    for t, c, p, m, s, b, r in zip(
        events.seconds, events.clients, events.paths, events.methods,
        events.statuses, events.sizes, events.referrers,
    ):
        status = status_text[s]
        result = "Error" if status[0] in "45" else ("Hit" if random_() < 0.8 else "Miss")
        request_id = base64.urlsafe_b64encode(randbytes(40)).decode("ascii")
        taken = f"{random_() * 0.2:.3f}"
        fields = (
            stamp[t], _EDGES[bits(8) % len(_EDGES)], str(b), ips[c], methods[m], "d111111abcdef8.cloudfront.net",
            stems[p], status, referrers[r], agents[client_agents[c]], queries[p], "-", result, request_id,
            _HOST, "https", str(100 + bits(9)), taken, "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", result,
            protocols[client_protocols[c]], "-", "-", str(1024 + bits(15)), taken, result, "text/html",
            str(b), "-", "-",
        )
        lines.append("\t".join(fields))
    return lines


def render_s3_access(events: Events, pools: WebPools, rng: random.Random) -> List[str]:
    """Render S3 server access log lines; ``-`` for zero bytes sent."""
    stamp = _Stamps(_apache_time)
    ips, agents, protocols = pools.client_ips, pools.agents, pools.protocols
    client_agents, client_protocols = pools.client_agents, pools.client_protocols
    keys = [p.split("?", 1)[0].lstrip("/") or "index.html" for p in pools.paths]
    methods, status_text, referrers = pools.methods, pools.status_text, pools.referrers
    bits, randbytes = rng.getrandbits, rng.randbytes
    lines = []
    for t, c, p, m, s, b, r in zip(
        events.seconds, events.clients, events.paths, events.methods,
        events.statuses, events.sizes, events.referrers,
    ):
        status = status_text[s]
        method = methods[m]
        error = _S3_ERRORS.get(int(status), "-")
        host_id = base64.b64encode(randbytes(57)).decode("ascii")
        size = str(b) if b else "-"
        lines.append(
            f"{_BUCKET_OWNER} {_BUCKET} [{stamp[t]}] {ips[c]} - {bits(64):016X} "
            f"{_S3_OPERATIONS[method]} {keys[p]} \"{method} /{_BUCKET}/{keys[p]} {protocols[client_protocols[c]]}\" "
            f"{status} {error} {size} {size} {1 + bits(7)} {bits(6) if b else '-'} "
            f"\"{referrers[r]}\" \"{agents[client_agents[c]]}\" - {host_id} SigV4 "
            f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {_BUCKET}.s3.us-east-2.amazonaws.com TLSv1.2 - -"
        )
    return lines


RENDERERS: Dict[str, Callable[[Events, WebPools, random.Random], List[str]]] = {
    "combined": render_combined,
    "nginx-json": render_nginx_json,
    "alb": render_alb,
    "cloudfront": render_cloudfront,
    "s3-access": render_s3_access,
}


def header(fmt: str) -> str:
    """Return the lines each file of ``fmt`` starts with (CloudFront's ``#Version`` and ``#Fields``)."""
    if fmt == "cloudfront":
        return f"#Version: 1.0\n#Fields: {CLOUDFRONT_FIELDS}\n"
    return ""


def file_name(fmt: str, slice_start: datetime, index: int) -> str:
    """Return the name of a file covering the slice from ``slice_start``, in the source's naming style."""
    suffix = f"{(index * 2654435761) & 0xFFFFFFFF:08x}"
    if fmt == "alb":
        return (
            f"{_ACCOUNT}_elasticloadbalancing_us-east-2_{_ALB_NAME.replace('/', '.')}_"
            f"{slice_start:%Y%m%dT%H%M}Z_10.0.0.1_{suffix}.log"
        )
    if fmt == "cloudfront":
        return f"E2EXAMPLE.{slice_start:%Y-%m-%d-%H}.{suffix}"
    if fmt == "s3-access":
        return f"{slice_start:%Y-%m-%d-%H-%M-%S}-{suffix.upper()}{suffix.upper()}"
    return f"access-{slice_start:%Y-%m-%dT%H-%M-%S}.log"


def corrupt(line: str, rng: random.Random) -> str:
    """Return a malformed version of ``line``: cut short before its status field, or not a log line."""
    if rng.random() < 0.7:
        # Every format puts the status field after its 40th character, and
        # CloudFront lines cut there have too few fields.
        return line[: rng.randint(8, min(40, len(line) - 1))]
    return rng.choice(_GARBAGE)
