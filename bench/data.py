"""Throughput of Florenz-Scenes row generation (`make_row`, image + text), single process: samples/s/core.

python bench/data.py --rows 3000 --image-size 128
"""

from __future__ import annotations

import argparse
import time

from dataset_builder.corpus import ScenesConfig, make_row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    config = ScenesConfig(image_size=args.image_size)
    keys = config.train_keys()
    make_row(config, args.split, keys[0], 0)  # warm-up: imports, first allocations
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    for index in range(args.rows):
        make_row(config, args.split, keys[index % len(keys)], index)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    print(f"make_row: {args.rows} rows, image {args.image_size}px, split {args.split}")
    print(f"samples/s/core: {args.rows / cpu:.0f} (CPU time; wall-clock {args.rows / wall:.0f}/s)")


if __name__ == "__main__":
    main()
