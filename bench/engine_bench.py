"""Engine performance, measured as the care-engine issue asks, with public tools only.

- plan-batch throughput: varied cases per second through `cicatrix plan-batch`, process start included;
- per-plan latency p50/p99 in one process (parse + plan + JSON);
- cold start: `cicatrix plan CASE --format json` against a bare `python -c pass`, run in turn, ratio of medians;
  `python -c "from pydantic import BaseModel"` is timed in the same rounds, for reference, because it is
  why the core's models are msgspec structs (docs/performance.md).

The source is byte-compiled first, as an installed package is: a shell with PYTHONDONTWRITEBYTECODE
set would otherwise recompile every module at every start.

Usage: .venv/bin/python bench/engine_bench.py [--cases 20000] [--runs 15]
Prints a Markdown section for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"


def varied_cases(n: int, seed: int = 7) -> list[dict[str, Any]]:
    from cicatrix.knowledge.loader import load_knowledge

    kb = load_knowledge()
    rng = random.Random(seed)
    scars, marks, lesions, treatments = (
        sorted(kb.scar_types),
        sorted(kb.marks),
        sorted(kb.lesions),
        sorted(kb.treatments),
    )
    out = []
    for i in range(n):
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(700))
        patient: dict[str, Any] = {
            "id": f"bench-{i}",
            "phototype": rng.choice(["I", "II", "III", "IV", "V", "VI"]),
            "pregnant": rng.random() < 0.05,
            "recent_sunburn": rng.random() < 0.05,
            "history": rng.sample(
                ["keloid", "herpes_simplex", "immunosuppression", "bleeding_disorder"], rng.randrange(3)
            ),
            "medications": rng.sample(["anticoagulant", "warfarin", "Prograf 1 mg"], rng.randrange(3)),
        }
        if rng.random() < 0.2:
            patient["isotretinoin_last_dose"] = (day - timedelta(days=rng.randrange(400))).isoformat()
        case = {
            "patient": patient,
            "assessment": {
                "date": day.isoformat(),
                "scars": [
                    {
                        "type": t,
                        "count": rng.randrange(1, 30),
                        "area_cm2": round(rng.random() * 25, 1),
                        "age_months": rng.randrange(60),
                    }
                    for t in rng.sample(scars, rng.randrange(1, 4))
                ],
                "marks": [{"type": t, "count": rng.randrange(1, 25)} for t in rng.sample(marks, rng.randrange(3))],
                "active_lesions": [
                    {"type": t, "count": rng.randrange(1, 6)} for t in rng.sample(lesions, rng.randrange(2))
                ],
            },
            "preferences": {"start": (day + timedelta(days=rng.randrange(60))).isoformat()},
        }
        if rng.random() < 0.5:
            case["assessment"]["goodman_baron_qualitative"] = rng.randrange(1, 5)
        if rng.random() < 0.3:
            case["preferences"]["treatments"] = rng.sample(treatments, 2)
        out.append(case)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    cases = varied_cases(args.cases)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([VENV / "python", "-m", "compileall", "-q", ROOT / "src" / "cicatrix"], check=True, env=env)

    with tempfile.TemporaryDirectory() as tmp:
        batch = Path(tmp) / "cases.jsonl"
        batch.write_text("\n".join(json.dumps(c) for c in cases) + "\n")
        subprocess.run([VENV / "cicatrix", "plan-batch", batch], check=True, capture_output=True)  # warm caches
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([VENV / "cicatrix", "plan-batch", batch], check=True, stdout=subprocess.DEVNULL)
            rates.append(args.cases / (time.perf_counter() - t0))
        case_file = Path(tmp) / "case.json"
        case_file.write_text(json.dumps(cases[0]))
        cold, bare, ratios, pyd_ratios = [], [], [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(
                [VENV / "cicatrix", "plan", case_file, "--format", "json"], check=True, stdout=subprocess.DEVNULL
            )
            t1 = time.perf_counter()
            subprocess.run([VENV / "python", "-c", "pass"], check=True)
            t2 = time.perf_counter()
            subprocess.run([VENV / "python", "-c", "from pydantic import BaseModel"], check=True)
            t3 = time.perf_counter()
            cold.append(t1 - t0)
            bare.append(t2 - t1)
            ratios.append((t1 - t0) / (t2 - t1))
            pyd_ratios.append((t3 - t2) / (t2 - t1))

    from cicatrix.engine.case import parse_case
    from cicatrix.engine.plan import plan_case
    from cicatrix.knowledge.frozen import to_json
    from cicatrix.knowledge.loader import load_knowledge

    kb = load_knowledge()
    lat = []
    for c in cases[:5000]:
        t0 = time.perf_counter()
        to_json(plan_case(parse_case(c, kb), kb))
        lat.append(time.perf_counter() - t0)

    print("## Care engine (`bench/engine_bench.py`)\n")
    print(f"Measured {time.strftime('%Y-%m-%d')} on this 2-core machine, Python {sys.version.split()[0]}.\n")
    print("| measure | result | goal |")
    print("|---|---|---|")
    print(
        f"| `plan-batch`, {args.cases:,} varied cases, process start included | {statistics.median(rates):,.0f} cases/s (median of 3) | ≥ 2,000 cases/s |"
    )
    print(
        f"| per plan in process (parse + plan + JSON), p50 / p99 | {pct(lat, 50) * 1e3:.2f} ms / {pct(lat, 99) * 1e3:.2f} ms | — |"
    )
    print(
        f"| cold `cicatrix plan CASE --format json` ÷ bare `python -c pass`, median of {args.runs} paired runs | "
        f"{statistics.median(ratios):.1f}× ({statistics.median(cold) * 1e3:.0f} ms vs {statistics.median(bare) * 1e3:.0f} ms) | ≤ 10× |"
    )
    print(
        f"| for reference: `python -c \"from pydantic import BaseModel\"` ÷ bare `python -c pass`, same rounds | "
        f"{statistics.median(pyd_ratios):.1f}× | — |"
    )


if __name__ == "__main__":
    main()
