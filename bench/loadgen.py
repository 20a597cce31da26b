"""Black-box load client: submit N jobs over HTTP, then poll until every one is terminal.

usage: loadgen.py BASE_URL SUBMIT_PATH STATUS_PATH_TEMPLATE N [CONCURRENCY] [HEADER=VALUE ...]
Each job is {"operation": "ner.entities", "input": {"text": ...}}: a short English sentence with
people, places and companies, different for every job.
The submit response must carry the id in one of: task_id, job_id, id.
Terminal statuses (case-insensitive): success, succeeded, failure, failed, cancelled, revoked.
Prints submit latency percentiles and end-to-end jobs/s.
"""
import asyncio
import json
import sys
import time

import httpx

NAMES = ["Barack Obama", "Angela Merkel", "Ada Lovelace", "Alan Turing", "Grace Hopper", "Marie Curie"]
ORGS = ["Siemens", "Google", "Toyota", "the World Bank", "Microsoft", "Airbus", "Nestle"]
CITIES = ["Paris", "Berlin", "Tokyo", "Nairobi", "Lima", "Oslo", "Toronto", "Madrid"]
TERMINAL = {"success", "succeeded", "failure", "failed", "cancelled", "canceled", "revoked"}


async def main():
    base, submit_path, status_tpl, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    conc = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    headers = dict(h.split("=", 1) for h in sys.argv[6:])
    lat, ids = [], []
    sem = asyncio.Semaphore(conc)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=conc)) as c:
        async def submit(i):
            async with sem:
                t = time.perf_counter()
                text = f"{NAMES[i % len(NAMES)]} met executives of {ORGS[i % len(ORGS)]} in {CITIES[i % len(CITIES)]} on day {i}."
                r = await c.post(submit_path, json={"operation": "ner.entities", "input": {"text": text}})
                lat.append(time.perf_counter() - t)
                r.raise_for_status()
                d = r.json()
                ids.append(d.get("task_id") or d.get("job_id") or d.get("id"))
        t0 = time.perf_counter()
        await asyncio.gather(*[submit(i) for i in range(n)])
        t_sub = time.perf_counter() - t0
        pending = set(ids)
        statuses = {}
        async def poll(jid):
            async with sem:
                r = await c.get(status_tpl.format(id=jid))
                s = str(r.json().get("status", "")).lower()
                if s in TERMINAL:
                    pending.discard(jid); statuses[jid] = s
        while pending and time.perf_counter() - t0 < 300:
            await asyncio.gather(*[poll(j) for j in list(pending)])
            if pending:
                await asyncio.sleep(0.05)
        t_all = time.perf_counter() - t0
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    ok = sum(1 for s in statuses.values() if s in ("success", "succeeded"))
    print(json.dumps({"n": n, "ok": ok, "unfinished": len(pending),
                      "submit_p50_ms": round(pct(.5), 2), "submit_p99_ms": round(pct(.99), 2),
                      "submit_rps": round(n / t_sub), "end_to_end_jobs_per_s": round(n / t_all, 1)}))

asyncio.run(main())
