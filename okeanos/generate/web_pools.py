"""Weighted pools that synthetic web traffic is drawn from.

The pools are built once per seed. They contain client addresses
(Zipf-weighted, some IPv6) with each client's user agent and HTTP version,
URL paths with query strings (Zipf-weighted), methods, and referrers. The
status mix is mostly 200, then 304, 404, redirects and a tail of 4xx and
5xx, and response sizes are drawn per status. Drawing from a
precomputed lookup table, indexed by the top bits of random 32-bit words
from ``Random.randbytes``, costs one list lookup per value: several times
cheaper than ``Random.choices`` with weights.
"""

from __future__ import annotations

import json
import math
import random
import sys
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate
from typing import List, Sequence, Tuple
from urllib.parse import quote

# Status codes and their share of requests, in the range seen on public web
# servers: mostly 200, then conditional 304s, missing pages, redirects, and a
# tail of client and server errors.
STATUS_WEIGHTS: Tuple[Tuple[int, float], ...] = (
    (200, 0.800),
    (304, 0.070),
    (404, 0.045),
    (302, 0.020),
    (301, 0.015),
    (206, 0.010),
    (500, 0.010),
    (403, 0.008),
    (502, 0.006),
    (503, 0.006),
    (400, 0.004),
    (401, 0.003),
    (504, 0.003),
)
METHOD_WEIGHTS: Tuple[Tuple[str, float], ...] = (
    ("GET", 0.890),
    ("POST", 0.060),
    ("HEAD", 0.030),
    ("PUT", 0.010),
    ("DELETE", 0.005),
    ("OPTIONS", 0.005),
)
PROTOCOL_WEIGHTS: Tuple[Tuple[str, float], ...] = (("HTTP/1.1", 0.80), ("HTTP/2.0", 0.15), ("HTTP/1.0", 0.05))
AGENT_WEIGHTS: Tuple[Tuple[str, float], ...] = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36", 0.30),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Safari/605.1.15", 0.12),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 0.08),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Mobile/15E148 Safari/604.1", 0.14),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.6099.144 Mobile Safari/537.36", 0.10),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0.06),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0.03),
    ("curl/8.4.0", 0.03),
    ("python-requests/2.31.0", 0.03),
    ("Debian APT-HTTP/1.3 (2.6.1)", 0.02),
    ("Tiny Tiny RSS/23.12 (https://tt-rss.org/)", 0.02),
    ("Go-http-client/1.1", 0.02),
    ("-", 0.05),
)
_SECTIONS = ("blog", "docs", "products", "downloads", "images", "static", "api/v1/items", "search", "tags")
_WORDS = (
    "logstash", "kibana", "spark", "opensearch", "release", "install", "guide", "metrics", "index",
    "monitoring", "pipeline", "grok", "filter", "windows", "linux", "jvm", "heap", "cluster",
)
_SITE = "https://www.example.com"
_EXTERNAL_REFERRERS = (
    "https://www.google.com/", "https://www.bing.com/search?q=okeanos+logs", "https://duckduckgo.com/",
    "https://news.ycombinator.com/", "https://t.co/abc123", "https://www.reddit.com/r/devops/",
    "https://github.com/", "https://stackoverflow.com/questions/tagged/logstash",
)
# Lookup-table sizes: weights below 1/size draw nothing, which for the
# Zipf-weighted pools is the long tail of rarely seen clients and paths.
_CLIENT_TABLE = 1 << 18
_SMALL_TABLE = 1 << 14
_SIZE_POOL_BITS = 12


@dataclass
class Events:
    """The drawn attributes of one file's events, one list entry per line."""

    seconds: List[int]
    clients: List[int]
    paths: List[int]
    methods: List[int]
    statuses: List[int]
    sizes: List[int]
    referrers: List[int]


@dataclass
class WebPools:
    """Values and lookup tables to draw events from; see :func:`build_pools`."""

    client_ips: List[str]
    client_agents: List[int]
    client_protocols: List[int]
    client_table: List[int]
    agents: List[str]
    protocols: List[str]
    paths: List[str]
    path_table: List[int]
    methods: List[str]
    method_table: List[int]
    status_text: List[str]
    status_table: List[int]
    size_pools: List[List[int]]
    referrers: List[str]
    referrer_table: List[int]

    def draw(self, rng: random.Random, count: int, slice_start: int, span: int) -> Events:
        """Draw ``count`` events with times in ``[slice_start, slice_start + span)`` (epoch seconds)."""
        seconds = sorted([slice_start + x % span for x in _random_words(rng, count)])
        # Servers log a request when it completes, so times are not quite in
        # order; swap a few neighbours.
        for _ in range(count // 20):
            j = rng.randrange(count - 1)
            seconds[j], seconds[j + 1] = seconds[j + 1], seconds[j]

        methods = _draw(rng, self.method_table, count)
        statuses = _draw(rng, self.status_table, count)
        pools = self.size_pools
        head = self.methods.index("HEAD")
        shift = 32 - _SIZE_POOL_BITS
        sizes = [
            0 if m == head else pools[s][x >> shift]
            for m, s, x in zip(methods, statuses, _random_words(rng, count))
        ]
        return Events(
            seconds=seconds,
            clients=_draw(rng, self.client_table, count),
            paths=_draw(rng, self.path_table, count),
            methods=methods,
            statuses=statuses,
            sizes=sizes,
            referrers=_draw(rng, self.referrer_table, count),
        )


def build_pools(*, seed: int, clients: int, ipv6_share: float, paths: int) -> WebPools:
    """Build the pools for ``seed``; equal arguments give equal pools."""
    rng = random.Random(f"okeanos-web-pools:{seed}")

    ips = _client_addresses(rng, clients, ipv6_share)
    rng.shuffle(ips)  # so IPv6 clients are spread over the Zipf ranks
    agent_weights = [w for _, w in AGENT_WEIGHTS]
    protocol_weights = [w for _, w in PROTOCOL_WEIGHTS]
    client_agents = rng.choices(range(len(AGENT_WEIGHTS)), weights=agent_weights, k=clients)
    client_protocols = rng.choices(range(len(PROTOCOL_WEIGHTS)), weights=protocol_weights, k=clients)

    path_list = _paths(rng, paths)
    statuses = [code for code, _ in STATUS_WEIGHTS]
    referrers = ["-"] + [_SITE + p for p in path_list[:200]] + list(_EXTERNAL_REFERRERS)
    referrer_weights = [0.45] + [0.40 / 200] * 200 + [0.15 / len(_EXTERNAL_REFERRERS)] * len(_EXTERNAL_REFERRERS)

    return WebPools(
        client_ips=ips,
        client_agents=client_agents,
        client_protocols=client_protocols,
        client_table=_table(_zipf(clients, 0.9), _CLIENT_TABLE),
        agents=[a for a, _ in AGENT_WEIGHTS],
        protocols=[p for p, _ in PROTOCOL_WEIGHTS],
        paths=path_list,
        path_table=_table(_zipf(paths, 1.0), _CLIENT_TABLE),
        methods=[m for m, _ in METHOD_WEIGHTS],
        method_table=_table([w for _, w in METHOD_WEIGHTS], _SMALL_TABLE),
        status_text=[str(code) for code in statuses],
        status_table=_table([w for _, w in STATUS_WEIGHTS], _SMALL_TABLE),
        size_pools=[_sizes(rng, code) for code in statuses],
        referrers=referrers,
        referrer_table=_table(referrer_weights, _SMALL_TABLE),
    )


def json_strings(values: Sequence[str]) -> List[str]:
    """Return each value as a JSON string literal without the surrounding quotes."""
    return [json.dumps(v)[1:-1] for v in values]


def url_encoded(values: Sequence[str]) -> List[str]:
    """Return each value URL-encoded the way CloudFront writes user agents (space as %20)."""
    return [quote(v, safe="/;:()+,=.-_~!*'") for v in values]


def _client_addresses(rng: random.Random, count: int, ipv6_share: float) -> List[str]:
    # Private IPv4 (10.0.0.0/8) and the IPv6 documentation prefix
    # (2001:db8::/32, RFC 3849), so no generated address is anyone's.
    v6 = int(round(count * ipv6_share))
    seen = set()
    out: List[str] = []
    while len(out) < count - v6:
        value = rng.getrandbits(24)
        if value not in seen:
            seen.add(value)
            out.append(f"10.{value >> 16}.{(value >> 8) & 255}.{value & 255}")
    while len(out) < count:
        a, b, c = rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16)
        address = f"2001:db8:{a:x}:{b:x}::{c:x}"
        if address not in seen:
            seen.add(address)
            out.append(address)
    return out


def _paths(rng: random.Random, count: int) -> List[str]:
    fixed = ["/", "/index.html", "/favicon.ico", "/robots.txt", "/feed", "/sitemap.xml", "/style.css"]
    out = fixed[:count]
    seen = set(out)
    while len(out) < count:
        section = rng.choice(_SECTIONS)
        words = "-".join(rng.sample(_WORDS, rng.randint(1, 3)))
        roll = rng.random()
        if section == "search":
            path = f"/search?q={words.replace('-', '+')}&page={rng.randint(1, 9)}"
        elif section == "api/v1/items":
            path = f"/api/v1/items/{rng.randint(1, 99999)}"
            if roll < 0.3:
                path += f"?fields=name,price&lang={rng.choice(('en', 'de', 'fr', 'ja'))}"
        elif section == "images":
            path = f"/images/{words}.{rng.choice(('png', 'jpg', 'gif', 'svg'))}"
        elif section == "static":
            path = f"/static/{rng.choice(('js', 'css'))}/{words}.{rng.getrandbits(32):08x}.min.js"
        elif section == "downloads":
            path = f"/downloads/product_{rng.randint(1, 40)}"
            if roll < 0.2:
                path = f"/downloads/{words}%20v{rng.randint(1, 9)}.{rng.randint(0, 20)}.tar.gz"
        else:
            path = f"/{section}/{words}"
            if roll < 0.15:
                path += f"?utm_source={rng.choice(('rss', 'twitter', 'newsletter'))}&utm_medium=link"
            elif roll < 0.25:
                path += "/"
        if path not in seen:
            seen.add(path)
            out.append(path)
    return out


def _sizes(rng: random.Random, status: int) -> List[int]:
    """Draw a pool of response body sizes in bytes for ``status``; 0 is written as ``-`` where the format does."""
    n = 1 << _SIZE_POOL_BITS
    if status == 304:
        return [0] * n
    if status == 200:
        return [min(int(rng.lognormvariate(math.log(6000), 1.6)) + 1, 50_000_000) for _ in range(n)]
    if status == 206:
        return [int(rng.lognormvariate(math.log(400_000), 1.0)) + 1 for _ in range(n)]
    if status in (301, 302):
        return [rng.randint(180, 420) for _ in range(n)]
    if status >= 500:
        return [0 if rng.random() < 0.25 else rng.randint(150, 600) for _ in range(n)]
    return [0 if rng.random() < 0.05 else int(rng.lognormvariate(math.log(500), 0.6)) + 1 for _ in range(n)]


def _random_words(rng: random.Random, count: int) -> array:
    """Return ``count`` uniform 32-bit integers from ``rng``, the same on any byte order."""
    words = array("I", rng.randbytes(4 * count))
    if sys.byteorder == "big":
        words.byteswap()
    return words


def _draw(rng: random.Random, table: List[int], count: int) -> List[int]:
    """Draw ``count`` entries of a power-of-two-sized lookup table, uniformly."""
    shift = 32 - (len(table).bit_length() - 1)
    return [table[x >> shift] for x in _random_words(rng, count)]


def _zipf(count: int, exponent: float) -> List[float]:
    return [1.0 / (rank + 1) ** exponent for rank in range(count)]


def _table(weights: Sequence[float], size: int) -> List[int]:
    """Return a lookup table: index ``i`` appears in proportion to ``weights[i]``."""
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    last = len(weights) - 1
    return [min(bisect_right(cumulative, (j + 0.5) / size * total), last) for j in range(size)]
