"""History and medication terms on the CLI: an unknown term exits 2 naming the field and the
term; a clinic that allows free text gets a plan with an `unrecognised_term` warning."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_plan_cli import cli
from tests.conftest import make_case


def _case(**patient: object) -> str:
    return json.dumps(make_case(scars=[{"type": "rolling", "count": 3}], patient=dict(patient)))


def test_an_unknown_medication_exits_2_naming_the_field_and_the_term() -> None:
    r = cli("plan", "-", stdin=_case(medications=["warfarin", "foo"]))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "patient.medications[1]: unknown medication 'foo'" in lines[0]


def test_an_unknown_history_term_in_a_batch_is_an_error_line_and_exit_2(tmp_path: Path) -> None:
    batch = tmp_path / "cases.jsonl"
    batch.write_text(_case(history=["kidney transplant"]) + "\n" + _case(history=["asthma"]) + "\n")
    r = cli("plan-batch", str(batch))
    assert r.returncode == 2
    first, second = r.stdout.strip().splitlines()
    assert "immunosuppression" in first
    assert "patient.history[0]" in second and "asthma" in second


def test_free_text_allowed_by_the_clinic_gives_a_plan_that_warns(tmp_path: Path) -> None:
    (tmp_path / "knowledge.yaml").write_text("policy:\n  vocabulary:\n    allow_free_text: true\n")
    r = cli(
        "plan", "-", "--format", "json", stdin=_case(medications=["foo"]), env={"CICATRIX_KNOWLEDGE_DIR": str(tmp_path)}
    )
    assert r.returncode == 0, r.stderr
    warnings = json.loads(r.stdout)["warnings"]
    assert [w for w in warnings if w["code"] == "unrecognised_term" and "'foo'" in w["message"]]


def test_the_vocabulary_can_be_browsed() -> None:
    lst = cli("knowledge", "list", "--kind", "vocabulary")
    assert lst.returncode == 0 and "immunosuppressant" in lst.stdout
    show = cli("knowledge", "show", "immunosuppressant")
    assert show.returncode == 0 and "tacrolimus" in show.stdout and "prednisolone" in show.stdout
