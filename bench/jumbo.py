"""Benchmark jumbo fields: S3 offload throughput, cache-hit latency, memory while decoding.

Reproduce (from the repository root, nothing else needed; it starts its own moto server):

    .venv/bin/python bench/jumbo.py          # one line of figures
    .venv/bin/python bench/jumbo.py --json   # the same figures as one JSON object

What it measures, against a local moto S3 (so throughput is CPU/loopback-bound, not network):

- encode: `encode_field` of a 1 MB, 5 MB and 50 MB payload (upload + write to the local cache);
- decode S3: `decode_field` with an empty cache (GET streamed into the cache, then read once);
- decode cache: `decode_field` of a cached payload;
- cache hit: latency of `decode_field` on a cached 100 kB payload (median of many);
- peak RSS: in a fresh subprocess (so earlier allocations in this one cannot pollute it),
  `ru_maxrss` after a 50 MB decode minus before it, as a multiple of the payload. The returned
  str is itself 1x; the floor for any decoder that returns a str from UTF-8 bytes is about 2x.

Figures are medians of a few runs. Never used as assertions in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1_000_000
SIZES = (1 * MB, 5 * MB, 50 * MB)
REPEATS = {1 * MB: 5, 5 * MB: 3, 50 * MB: 3}


def make_payload(size: int) -> str:
    """An ASCII JSON string of exactly `size` characters (random hex, so nothing compresses)."""
    body = os.urandom((size - 4) // 2 + 1).hex()[: size - 4]
    return '["' + body + '"]'


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def child_peak_rss() -> None:
    """In a fresh process: print the ru_maxrss growth (bytes) caused by decoding one reference.

    Reads "REFERENCE WARM_UP_REFERENCE" from stdin, so the parent can start this process before
    it allocates anything large: Linux carries ru_maxrss across fork+exec, so a child started
    later would inherit the parent's high-water mark and hide its own.
    """
    line = sys.stdin.readline().split("\t")
    reference, warm_up = line[0], line[1].strip()
    from replayflow import jumbo

    jumbo.decode_field(warm_up)  # imports boto3, builds the client and the cache, one small GET
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text = jumbo.decode_field(reference)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert text is not None and len(text) == jumbo.parse_reference(reference)[2]
    print(json.dumps({"grown_bytes": (after - before) * 1024}))  # Linux: ru_maxrss is in KiB


def start_rss_child(cache_dir: str) -> subprocess.Popen[str]:
    env = dict(os.environ, REPLAYFLOW_CACHE_DIR=cache_dir)
    return subprocess.Popen(
        [sys.executable, __file__, "--child-rss"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )


def finish_rss_child(child: subprocess.Popen[str], reference: str, warm_up: str) -> int:
    out, _ = child.communicate(f"{reference}\t{warm_up}\n", timeout=600)
    if child.returncode != 0:
        raise RuntimeError(f"RSS child failed with code {child.returncode}")
    return json.loads(out.strip().splitlines()[-1])["grown_bytes"]


def run() -> dict:
    from tests.support.moto_server import MotoServer

    results: dict = {}
    with MotoServer() as server, tempfile.TemporaryDirectory(prefix="bench-jumbo-") as tmp:
        os.environ.update(server.env())
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        os.environ["REPLAYFLOW_JUMBO_FIELDS_BUCKET"] = f"{bucket}/bench"
        os.environ["REPLAYFLOW_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["REPLAYFLOW_CACHE_SIZE"] = "2GiB"
        # Started now, while this process is still small (see child_peak_rss); they wait.
        rss_dir = str(Path(tmp) / "rss-cache")
        cold_child, warm_child = start_rss_child(rss_dir), start_rss_child(rss_dir)

        from replayflow import jumbo
        from replayflow.encoding import MAX_INPUT

        store = jumbo.default_store()
        jumbo.decode_field(jumbo.encode_field("input", make_payload(40_000), MAX_INPUT))  # warm

        for size in SIZES:
            label = f"{size // MB}MB"
            text = make_payload(size)
            refs: list[str] = []
            enc = median_seconds(
                lambda t=text, out=refs: out.append(jumbo.encode_field("input", t, MAX_INPUT)),
                REPEATS[size],
            )
            reference = refs[-1]
            bucket_name, key, _ = jumbo.parse_reference(reference)
            cache_key = jumbo._cache_key(bucket_name, key)

            def cold(ref=reference, ck=cache_key) -> None:
                store.cache.delete(ck)
                jumbo.decode_field(ref)

            dec_s3 = median_seconds(cold, REPEATS[size])
            dec_cache = median_seconds(lambda r=reference: jumbo.decode_field(r), REPEATS[size])
            results[f"encode_{label}_MBps"] = round(size / MB / enc, 1)
            results[f"decode_s3_{label}_MBps"] = round(size / MB / dec_s3, 1)
            results[f"decode_cache_{label}_MBps"] = round(size / MB / dec_cache, 1)
            del text

        small = jumbo.encode_field("input", make_payload(100_000), MAX_INPUT)
        jumbo.decode_field(small)
        hits = []
        for _ in range(300):
            start = time.perf_counter()
            jumbo.decode_field(small)
            hits.append(time.perf_counter() - start)
        results["cache_hit_100kB_us"] = round(statistics.median(hits) * 1e6)

        # Peak RSS of one 50 MB decode, in fresh subprocesses: from S3 (empty cache), then from
        # the cache that first run filled.
        size = 50 * MB
        reference = jumbo.encode_field("input", make_payload(size), MAX_INPUT)
        warm_up = jumbo.encode_field("input", make_payload(40_000), MAX_INPUT)
        cold_rss = finish_rss_child(cold_child, reference, warm_up)
        warm_rss = finish_rss_child(warm_child, reference, warm_up)
        results["peak_rss_decode_50MB_s3_MB"] = round(cold_rss / MB, 1)
        results["peak_rss_decode_50MB_s3_x_payload"] = round(cold_rss / size, 2)
        results["peak_rss_decode_50MB_cache_MB"] = round(warm_rss / MB, 1)
        results["peak_rss_decode_50MB_cache_x_payload"] = round(warm_rss / size, 2)
        results["s3_gets"] = store.stats.s3_gets
        jumbo.reset_default_store()
    return results


def format_line(r: dict) -> str:
    parts = []
    for kind in ("encode", "decode_s3", "decode_cache"):
        figures = "/".join(str(r[f"{kind}_{s // MB}MB_MBps"]) for s in SIZES)
        parts.append(f"{kind.replace('_', ' ')} {figures} MB/s")
    return (
        "jumbo (1/5/50 MB, moto on loopback): " + ", ".join(parts)
        + f"; cache hit 100 kB {r['cache_hit_100kB_us']} µs"
        + f"; peak RSS decoding 50 MB: from S3 +{r['peak_rss_decode_50MB_s3_MB']} MB"
        + f" ({r['peak_rss_decode_50MB_s3_x_payload']}x), from cache"
        + f" +{r['peak_rss_decode_50MB_cache_MB']} MB"
        + f" ({r['peak_rss_decode_50MB_cache_x_payload']}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child-rss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_peak_rss()
        return
    results = run()
    print(json.dumps(results, sort_keys=True) if args.json else format_line(results))


if __name__ == "__main__":
    main()
