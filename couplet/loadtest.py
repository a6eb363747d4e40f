"""Load test of a running app through the Gradio client API (loopback only).

    python app.py &                       # serves on 127.0.0.1:7860
    python -m couplet.loadtest --url http://127.0.0.1:7860 --clients 50 --requests 20

Each client sends its requests one after another (couplets, with every fifth a poem); the
clients run at the same time. Prints errors and latency percentiles; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlparse

UPPERS = ["春回大地千山秀", "一帆风顺年年好", "天增岁月人增寿", "书山有路勤为径", "海内存知己，天涯若比邻"]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Concurrent clients against a running couplet app.")
    p.add_argument("--url", default="http://127.0.0.1:7860", help="app address (loopback only)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients")
    p.add_argument("--requests", type=int, default=20, help="requests per client")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    host = urlparse(args.url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        print("error: the load test only targets loopback addresses", file=sys.stderr)
        return 2
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        try:
            client = Client(args.url, verbose=False)
        except Exception as e:  # a client that cannot connect counts all its requests as errors
            with lock:
                errors.extend([f"connect: {e}"] * args.requests)
            return
        for i in range(args.requests):
            t0 = time.perf_counter()
            try:
                if i % 5 == 4:
                    out = client.predict("春夏秋冬", "七绝", "acrostic", 1, "auto", "off", 0.8, 0, 0.95, 1, k * 100 + i,
                                         api_name="/poem")
                    ok = 'class="poem"' in out
                else:
                    out = client.predict(UPPERS[(k + i) % len(UPPERS)], 0.0, 0, 1.0, 3, True, 0, "end", True, True,
                                         "", False, api_name="/couplet")
                    ok = 'class="cand"' in out
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    if not ok:
                        errors.append(out[:200])
            except Exception as e:
                with lock:
                    errors.append(repr(e)[:200])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    report = {"clients": args.clients, "requests": args.clients * args.requests, "completed": len(latencies),
              "errors": len(errors), "wall_s": round(wall, 2), "throughput_per_s": round(len(latencies) / wall, 1),
              "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
              "max_ms": round(max(ms), 1) if ms else None,
              "mean_ms": round(statistics.mean(ms), 1) if ms else None}
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k:>18}: {v}")
        for e in errors[:5]:
            print(f"error: {e}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
