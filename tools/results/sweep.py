"""Delete results kept by reference (`results/` in the file storage) once the job records that
name them have expired from the read model: `make sweep-results`, e.g. daily from cron.

The read model forgets a finished job `PROJECTOR_FINISHED_JOB_TTL` seconds after it ended; a
result is written just before its `succeeded` event, so anything older than that TTL plus a
margin names no readable job. On S3 a bucket lifecycle rule on the prefix does the same
without this (docs/operations.md#large-results)."""

import argparse
import asyncio
import os
import sys
from datetime import timedelta

from shared.results import ResultStore
from shared.storage import StorageSettings, open_storage

DEFAULT_TTL = 7 * 24 * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ttl = int(os.environ.get("PROJECTOR_FINISHED_JOB_TTL", DEFAULT_TTL))
    parser.add_argument(
        "--older-than",
        type=float,
        default=ttl + 24 * 3600,
        help="seconds (default: PROJECTOR_FINISHED_JOB_TTL plus a day)",
    )
    args = parser.parse_args()
    if ttl == 0 and "--older-than" not in sys.argv:
        parser.exit(0, "PROJECTOR_FINISHED_JOB_TTL=0 keeps finished jobs forever: nothing to sweep\n")
    store = ResultStore(open_storage(StorageSettings()))
    gone = asyncio.run(store.sweep(timedelta(seconds=args.older_than)))
    print(f"deleted {gone} results older than {args.older_than:.0f} s from {store.storage.description}")


if __name__ == "__main__":
    main()
