"""The CLI contract: formats, stdin, batch, knowledge browsing, and bad input → exit 2, one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cicatrix.examples import example_cases
from tests.conftest import make_case

EXAMPLE = Path(__file__).resolve().parents[2] / "src/cicatrix/examples/keloid_active_acne_phototype_iv.json"


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cicatrix.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_plan_json_has_the_contract_keys() -> None:
    r = cli("plan", str(EXAMPLE), "--format", "json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert set(plan["scores"]) >= {"goodman_baron_quantitative", "ecca", "goodman_baron_qualitative", "severity"}
    for rec in plan["recommended"]:
        assert {"treatment", "rank", "targets", "rationale", "sources", "warnings"} <= set(rec)
    for exc in plan["excluded"]:
        assert {"treatment", "reasons"} <= set(exc) and exc["reasons"][0].keys() >= {"code", "message"}
    assert {"sessions", "maintenance", "follow_up"} <= set(plan["course"])
    assert all({"date", "kind", "text"} <= set(e) for e in plan["timeline"])
    assert {"topic", "text"} <= set(plan["education"][0])
    # the issue's own example: micro-needling requested, but excluded (keloid, immunosuppression, acne)
    assert plan["course"]["sessions"] == []
    mn = next(e for e in plan["excluded"] if e["treatment"] == "microneedling")
    assert {r["code"] for r in mn["reasons"]} >= {"keloid_history", "immunosuppression", "active_inflammatory_acne"}
    assert any(w["code"] == "requested_treatment_excluded" for w in plan["warnings"])


def test_plan_reads_stdin_and_renders_text_and_markdown() -> None:
    text = cli("plan", "-", stdin=EXAMPLE.read_text())
    assert text.returncode == 0 and "Excluded" in text.stdout and "clinical judgement" in text.stdout
    md = cli("plan", str(EXAMPLE), "--format", "markdown")
    assert md.returncode == 0 and md.stdout.startswith("# Treatment plan") and "## Excluded" in md.stdout


def test_score_command() -> None:
    r = cli("score", str(EXAMPLE), "--format", "json")
    assert r.returncode == 0
    scores = json.loads(r.stdout)
    # rolling shallow x8 → A 1; pih x10 → A macular 1; keloid 1.5 cm2 → 6
    assert scores["goodman_baron_quantitative"] == 8
    # rolling 8 → M grade 2 = 50; keloid 1 → grade 1 x 50
    assert scores["ecca"] == 100
    assert scores["severity"] == "moderate"


def test_plan_batch_one_plan_per_line_in_order(tmp_path: Path) -> None:
    cases = [data for _name, data in example_cases()]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n")
    r = cli("plan-batch", str(path))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [json.loads(x)["case_id"] for x in lines] == [c["patient"]["id"] for c in cases]


def test_plan_batch_bad_line_keeps_alignment_and_exits_2(tmp_path: Path) -> None:
    good = json.dumps(make_case())
    path = tmp_path / "in.jsonl"
    path.write_text(f"{good}\nnot json\n{json.dumps(make_case(scars=[{'type': 'ice_pick', 'count': -1}]))}\n{good}\n")
    r = cli("plan-batch", str(path))
    assert r.returncode == 2
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == 4 and out[1]["line"] == 2 and out[2]["error"]["field"] == "assessment.scars[0].count"
    assert "Traceback" not in r.stderr


def test_demo_plans_every_example() -> None:
    r = cli("demo")
    assert r.returncode == 0, r.stderr
    for name, _ in example_cases():
        assert name in r.stdout


def test_knowledge_list_and_show() -> None:
    lst = cli("knowledge", "list", "--kind", "treatments")
    assert lst.returncode == 0 and "microneedling" in lst.stdout
    show = cli("knowledge", "show", "microneedling")
    assert show.returncode == 0 and "interval_days" in show.stdout and "Seed 002" in show.stdout
    missing = cli("knowledge", "show", "nonsense")
    assert missing.returncode == 2 and "nonsense" in missing.stderr


def test_knowledge_dir_override_via_env(tmp_path: Path) -> None:
    (tmp_path / "treatments").mkdir()
    (tmp_path / "treatments" / "microneedling.yaml").write_text(
        "id: microneedling\nprotocol:\n  interval_days: {min: 30, max: 40}\n"
    )
    r = cli("knowledge", "show", "microneedling", env={"CICATRIX_KNOWLEDGE_DIR": str(tmp_path)})
    assert r.returncode == 0 and "min: 30" in r.stdout and "overridden" in r.stdout
    bad = tmp_path / "scar_types.yaml"
    bad.write_text("- id: rolling\n  category: wavy\n")
    r = cli("plan", str(EXAMPLE), env={"CICATRIX_KNOWLEDGE_DIR": str(tmp_path)})
    assert r.returncode == 2 and "scar_types.yaml" in r.stderr and "rolling" in r.stderr


def _bad(mutate: Any) -> dict[str, Any]:
    case = make_case(scars=[{"type": "rolling", "count": 3}])
    mutate(case)
    return case


@pytest.mark.parametrize(
    ("payload", "field", "value"),
    [
        (
            json.dumps(_bad(lambda c: c["assessment"]["scars"][0].update(type="crater"))),
            "assessment.scars[0].type",
            "crater",
        ),
        (json.dumps(_bad(lambda c: c["assessment"]["scars"][0].update(count=-2))), "assessment.scars[0].count", "-2"),
        (json.dumps(_bad(lambda c: c["assessment"].update(date="2026-13-45"))), "assessment.date", "2026-13-45"),
        (json.dumps(_bad(lambda c: c["patient"].pop("phototype"))), "patient.phototype", "is required"),
        (json.dumps(_bad(lambda c: c["patient"].update(phototype="VII"))), "patient.phototype", "VII"),
        (json.dumps(_bad(lambda c: c["assessment"].pop("scars"))), "assessment.scars", "is required"),
        (
            json.dumps(_bad(lambda c: c["preferences"].update(treatments=["leeches"]))),
            "preferences.treatments",
            "leeches",
        ),
        (
            json.dumps(_bad(lambda c: c["assessment"]["marks"].append({"type": "tattoo", "count": 1}))),
            "assessment.marks[0].type",
            "tattoo",
        ),
        ("{not json", "not valid JSON", "line 1"),
        ("[1, 2]", "case", "JSON object"),
    ],
)
def test_bad_input_exits_2_with_one_line_naming_the_field(payload: str, field: str, value: str) -> None:
    r = cli("plan", "-", stdin=payload)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert field in lines[0] and value in lines[0]


def test_missing_file_exits_2() -> None:
    r = cli("plan", "/nonexistent/case.json")
    assert r.returncode == 2 and "no such file" in r.stderr


def test_help_teaches() -> None:
    r = cli("plan", "--help")
    assert r.returncode == 0 and "Example" in r.stdout and "clinician" in r.stdout


def test_cold_plan_path_stays_light() -> None:
    # the cold-start goal (docs/performance.md) rests on the plan path never importing the
    # heavy libraries the service uses; this fails the moment one creeps back in
    code = (
        "import sys; from cicatrix.cli.entry import main; sys.argv = ['cicatrix', 'plan', sys.argv[1], '--format', 'json'];"
        "main(); heavy = sorted(m for m in ('pydantic', 'typer', 'rich', 'yaml', 'sqlalchemy', 'fastapi') if m in sys.modules);"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))"
    )
    # the knowledge cache is warm, as on every start after the first (check=True: a failure raises)
    subprocess.run([sys.executable, "-c", "from cicatrix.knowledge.loader import load_knowledge; load_knowledge()"], check=True)
    r = subprocess.run([sys.executable, "-c", code, str(EXAMPLE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recommended"]
    assert r.stderr.strip().endswith("HEAVY="), r.stderr


def _bytes(module: str, args: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    r = subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["plan", str(EXAMPLE)],
        ["plan", str(EXAMPLE), "--format", "json"],
        ["plan", str(EXAMPLE), "--format", "markdown"],
        ["score", str(EXAMPLE)],
        ["score", str(EXAMPLE), "-f", "json"],
        ["plan-batch", "-"],
        ["plan", "-"],  # bad input on stdin: the same one line and exit 2 on both paths
    ],
)
def test_fast_path_and_typer_print_identical_bytes(args: list[str]) -> None:
    """`cli/fast.py` (the console script's typer-free path) and the Typer app answer the same
    input with the same bytes, exit code and error line."""
    stdin = None
    if args[-1] == "-":
        stdin = (
            "\n".join(json.dumps(c) for _n, c in example_cases()).encode() + b"\n"
            if args[0] == "plan-batch"
            else b'{"patient": {"phototype": "IX"}}'
        )
    fast = _bytes("cicatrix.cli.entry", args, stdin)
    typer_path = _bytes("cicatrix.cli.main", args, stdin)
    assert fast == typer_path
    assert fast[1] or fast[0] == 2
