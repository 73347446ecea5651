"""Comparison of an aggregation result with the generator's summary, group by group."""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Tuple

METRICS = ("requests", "bytes", "clients")

Key = Tuple[str, str]


def index_rows(rows: Iterable[Mapping[str, object]]) -> Dict[Key, Tuple[int, int, int]]:
    """Map (bucket, status) to (requests, bytes, clients), with the metrics as ints."""
    out: Dict[Key, Tuple[int, int, int]] = {}
    for row in rows:
        key = (str(row["bucket"]), str(row["status"]))
        if key in out:
            raise ValueError(f"two rows for bucket {key[0]} and status {key[1]}")
        out[key] = tuple(int(row[m]) for m in METRICS)  # type: ignore[assignment]
    return out


def differences(
    expected: Iterable[Mapping[str, object]], actual: Iterable[Mapping[str, object]], *, limit: int = 10
) -> List[str]:
    """Return up to ``limit`` readable differences between two row sets; empty when they are equal."""
    want, got = index_rows(expected), index_rows(actual)
    out: List[str] = []
    for key in sorted(set(want) | set(got)):
        if want.get(key) == got.get(key):
            continue
        if key not in got:
            out.append(f"{key[0]} status {key[1]}: missing, expected {dict(zip(METRICS, want[key]))}")
        elif key not in want:
            out.append(f"{key[0]} status {key[1]}: unexpected row {dict(zip(METRICS, got[key]))}")
        else:
            out.append(
                f"{key[0]} status {key[1]}: expected {dict(zip(METRICS, want[key]))}, "
                f"got {dict(zip(METRICS, got[key]))}"
            )
        if len(out) >= limit:
            break
    return out
