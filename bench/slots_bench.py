"""Free-slot search for a busy clinic: 20 practitioners, 10 rooms and a year of bookings.

The running-the-course issue asks for a p95 under 50 ms. Each query is what the booking screen
asks: the first 10 free slots for a 60-minute session inside a two-week protocol window that
starts at a random day of the year. A query first takes each resource's bookings that overlap the
window from the year (bisect on bookings sorted by start, as the database's index on start does),
then searches; both are timed. The bookings fill each practitioner's and each room's days
at random (about 70 % of opening hours), as a clinic at steady state would. Figures are per
query in one process, after one warm-up query; a bare `sorted()` of the same year's bookings is
timed in the same run as the calibration line.

Usage: .venv/bin/python bench/slots_bench.py [--queries 300] [--seed 3]
Prints a Markdown section for docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time as clock
from bisect import bisect_left
from datetime import date, datetime, time, timedelta

from cicatrix.engine.slots import Booking, ClinicCalendar, OpeningHours, free_slots, public_holidays

YEAR = 2027
HOURS = (
    *(OpeningHours(weekday=d, opens=time(8), closes=time(19)) for d in range(5)),
    OpeningHours(weekday=5, opens=time(9), closes=time(14)),
)


def year_of_bookings(
    rng: random.Random, cal: ClinicCalendar, names: list[str], fill: float
) -> dict[str, list[Booking]]:
    out: dict[str, list[Booking]] = {n: [] for n in names}
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        for opens, closes in cal.periods(day):
            for name in names:
                t = datetime.combine(day, opens)
                end = datetime.combine(day, closes)
                while t < end:
                    length = timedelta(minutes=15 * rng.randint(2, 6))
                    if rng.random() < fill and t + length <= end:
                        out[name].append(Booking(start=t, end=t + length))
                    t += length
        day += timedelta(days=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cal = ClinicCalendar(hours=HOURS, closed=public_holidays("GB", "ENG", date(YEAR, 1, 1), date(YEAR, 12, 31)))
    people = year_of_bookings(rng, cal, [f"practitioner-{i:02d}" for i in range(20)], 0.7)
    rooms = year_of_bookings(rng, cal, [f"room-{i:02d}" for i in range(10)], 0.7)
    total = sum(map(len, people.values())) + sum(map(len, rooms.values()))

    index = {name: ([b.start for b in bs], bs) for name, bs in (*people.items(), *rooms.items())}

    def window(names: dict[str, list[Booking]], lo: datetime, hi: datetime) -> dict[str, list[Booking]]:
        out = {}
        for name in names:
            starts, bookings = index[name]
            # bookings last at most a day here, so starting a day early catches any that reach in
            out[name] = bookings[bisect_left(starts, lo - timedelta(days=1)) : bisect_left(starts, hi)]
        return out

    def query() -> float:
        first = date(YEAR, 1, 1) + timedelta(days=rng.randint(0, 340))
        last = first + timedelta(days=13)
        start = clock.perf_counter()
        lo, hi = datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())
        p_w, r_w = window(people, lo, hi), window(rooms, lo, hi)
        slots = free_slots(cal, p_w, r_w, timedelta(minutes=60), first, last, limit=10)
        elapsed = clock.perf_counter() - start
        assert slots, "a two-week window at 70 % occupancy always has a free hour"
        return elapsed

    query()
    times = sorted(query() * 1000 for _ in range(args.queries))
    start = clock.perf_counter()
    for bookings in (*people.values(), *rooms.values()):
        sorted((b.start, b.end) for b in bookings)
    calibration = (clock.perf_counter() - start) * 1000
    p50 = statistics.median(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print("## Free-slot search (`bench/slots_bench.py`)\n")
    print(f"20 practitioners, 10 rooms, {total:,} bookings over {YEAR}; {args.queries} queries for the first 10 free")
    print("60-minute slots in a random two-week window.\n")
    print("| measure | ms |")
    print("|---|---|")
    print(f"| query p50 | {p50:.1f} |")
    print(f"| query p95 | {p95:.1f} |")
    print(f"| query max | {times[-1]:.1f} |")
    print(f"| calibration: sorting every resource's year of bookings once | {calibration:.1f} |")


if __name__ == "__main__":
    main()
