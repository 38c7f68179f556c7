"""The demo under load: N concurrent caption requests through `gradio_client` against a local app → errors, latency.

Usage: python bench/space.py [--model runs/quick/best-model] [--requests 50] [--beams 3] [--new-tokens 32]
Target: 0 errors with 50 requests in flight at once (the app queues them, 2 run at a time: a free Space has 2 vCPUs).
Prints each request's latency (submit → result, queue wait included), p50/p95, and the single-request latency measured
before the burst. Requests alternate prefix on/off over the six languages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client, handle_file

from spaces_demo.app import FlorenzDemo, build_app
from spaces_demo.examples import write_examples

LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/quick/best-model", help="model folder (default: the quick run's)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--beams", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--http-timeout", type=float, default=300.0, help="seconds per HTTP call of the client")
    args = parser.parse_args()

    started = time.perf_counter()
    demo = FlorenzDemo.load(args.model)
    load_seconds = time.perf_counter() - started
    examples = write_examples(tempfile.mkdtemp(prefix="florenz-bench-"))
    image = handle_file(str(examples / "caption-0.png"))
    app = build_app(demo, examples)
    app.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        # gradio_client gives each HTTP call (the image upload included) 20 s by default; with 50 requests queued on a
        # busy CPU the server answers uploads late, not never, so the bench allows --http-timeout.
        client = Client(app.local_url, verbose=False, httpx_kwargs={"timeout": args.http_timeout})
        single = time.perf_counter()
        client.predict(image, "caption", "fr", True, args.beams, args.new_tokens, api_name="/caption")
        single = time.perf_counter() - single

        burst = time.perf_counter()
        jobs, finished = [], {}
        for index in range(args.requests):
            language, prefix = LANGUAGES[index % 6], bool(index % 2)
            job = client.submit(
                image, "caption", language, prefix, args.beams, args.new_tokens, api_name="/caption",
                result_callbacks=[lambda _, index=index: finished.setdefault(index, time.perf_counter())],
            )  # fmt: skip
            jobs.append((time.perf_counter(), job))
        latencies, errors = [], []
        for index, (submitted, job) in enumerate(jobs):
            try:
                text = job.result(timeout=3600)
                if not isinstance(text, str):
                    raise TypeError(f"expected a caption string, got {type(text).__name__}")
            except Exception as err:  # noqa: BLE001 -- every failure is counted and printed
                errors.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(finished.get(index, time.perf_counter()) - submitted)
        wall = time.perf_counter() - burst
    finally:
        app.close()

    print(f"model: {demo.source} (load {load_seconds:.1f} s); {args.beams} beams, {args.new_tokens} new tokens; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"single request: {single:.2f} s")
    print(f"{args.requests} concurrent requests: {len(errors)} errors, wall {wall:.1f} s, "
          f"{args.requests / wall:.2f} requests/s")  # fmt: skip
    if latencies:
        print(f"latency p50 {percentile(latencies, 0.5):.2f} s, p95 {percentile(latencies, 0.95):.2f} s, "
              f"mean {statistics.mean(latencies):.2f} s, max {max(latencies):.2f} s")  # fmt: skip
    for error in errors:
        print(f"error: {error}")


if __name__ == "__main__":
    main()
