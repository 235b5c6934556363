"""`cicatrix knowledge matrix` and the checked-in review page docs/safety-matrix.md."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cicatrix.cli.matrix import matrix_markdown
from cicatrix.knowledge.models import KnowledgeBase
from tests.cli.test_plan_cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "safety-matrix.md"


def test_the_review_page_is_generated_from_the_data(kb: KnowledgeBase) -> None:
    assert DOC.read_text(encoding="utf-8") == matrix_markdown(kb), (
        "docs/safety-matrix.md is stale: regenerate it with "
        "`cicatrix knowledge matrix --format markdown > docs/safety-matrix.md` and review the diff"
    )


def test_the_review_page_shows_every_cell_and_the_legend(kb: KnowledgeBase) -> None:
    page = matrix_markdown(kb)
    assert "## Legend" in page and "## Treatment groups" in page
    for tid in kb.treatments:
        assert f"| `{tid}` | " in page
    # the deep-peel isotretinoin rule is marked as the inference it is
    assert "This is an inference" in page


def test_csv_has_one_row_per_cell(kb: KnowledgeBase) -> None:
    r = cli("knowledge", "matrix", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == len(kb.conditions) * len(kb.treatments)
    peel = next(x for x in rows if (x["condition"], x["treatment"]) == ("recent_isotretinoin", "chemical_peel_deep"))
    assert peel["decision"] == "delay" and peel["wait"] == "6 months after isotretinoin last dose"
    assert peel["evidence_level"] == "U" and peel["declared_by"] == "treatment"


def test_text_grid_and_help() -> None:
    r = cli("knowledge", "matrix")
    assert r.returncode == 0, r.stderr
    assert "chemical_peel_deep" in r.stdout and "exclude:" in r.stdout
    h = cli("knowledge", "matrix", "--help")
    assert "X exclude" in h.stdout and "--format csv" in h.stdout


def test_bad_format_and_broken_matrix_exit_2(tmp_path: Path) -> None:
    r = cli("knowledge", "matrix", "--format", "pdf")
    assert r.returncode == 2
    (tmp_path / "conditions.yaml").write_text(
        "- id: lupus\n  name: Lupus\n  description: Systemic lupus.\n  triggers: {history_any: [immunosuppression]}\n"
        "  sources: [cicatrix-default]\n  evidence_level: U\n"
    )
    bad = cli("knowledge", "matrix", env={"CICATRIX_KNOWLEDGE_DIR": str(tmp_path)})
    assert bad.returncode == 2
    assert "no decision for condition 'lupus' x treatment" in bad.stderr and "Traceback" not in bad.stderr


def test_show_lists_the_entrys_row_or_column() -> None:
    peel = cli("knowledge", "show", "chemical_peel_deep")
    assert peel.returncode == 0, peel.stderr
    assert "exclude cardiac_disease (V-low)" in peel.stdout and "delay   recent_isotretinoin (U)" in peel.stdout
    pregnancy = cli("knowledge", "show", "pregnancy")
    assert "warn    chemical_peel_superficial (V)" in pregnancy.stdout
