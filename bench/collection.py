#!/usr/bin/python3
"""Writes a collection for the benchmark: a JSON array of records like
RECORD (bench/record.json), each with its own id, of about SIZE bytes.

    collection.py RECORD SIZE      SIZE: 100k or 1m (10^5 or 10^6 bytes, at most)
"""
import json
import sys

SIZES = {"100k": 100_000, "1m": 1_000_000}


def main():
    with open(sys.argv[1]) as f:
        record = json.load(f)
    target = SIZES[sys.argv[2]]
    out, size, n = [], 2, 0
    while True:
        rec = dict(record, id="R%06d" % (200000 + n))
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
        if out and size + len(text) + 1 > target:
            break
        out.append(text)
        size += len(text) + 1
        n += 1
    sys.stdout.write("[" + ",".join(out) + "]")


if __name__ == "__main__":
    main()
