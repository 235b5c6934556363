from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cicatrix.exports.pdf import HandoutOptions, render_pdf
from cicatrix.knowledge.models import KnowledgeBase

from .conftest import example_plan, make_plan

PDFTOTEXT = shutil.which("pdftotext") or "/usr/bin/pdftotext"
PDFINFO = shutil.which("pdfinfo") or "/usr/bin/pdfinfo"

pytestmark = pytest.mark.skipif(not Path(PDFTOTEXT).exists(), reason="pdftotext (poppler-utils) is not installed")


def _text(pdf: bytes, tmp_path: Path) -> str:
    f = tmp_path / "h.pdf"
    f.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, str(f), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def _pages(pdf: bytes, tmp_path: Path) -> int:
    f = tmp_path / "p.pdf"
    f.write_bytes(pdf)
    out = subprocess.run([PDFINFO, str(f)], capture_output=True, check=True, text=True)
    return int(next(line.split()[-1] for line in out.stdout.splitlines() if line.startswith("Pages:")))


def test_handout_of_a_real_plan(kb: KnowledgeBase, tmp_path: Path) -> None:
    _case, plan = example_plan(kb)
    opts = HandoutOptions(clinic_name="Harbour Skin Clinic", clinic_phone="020 7946 0000")
    pdf = render_pdf(plan, opts, kb)
    assert pdf.startswith(b"%PDF")
    text = _text(pdf, tmp_path)
    assert "Harbour Skin Clinic" in text
    assert "Your plan in plain words" in text
    mn = [s for s in plan.course.sessions if s.treatment == "microneedling"]
    first = mn[0].date
    # the day-by-day table: the session day and the days around it, dated
    assert f"{first:%a} {first.day} {first:%b %Y}" in text
    assert "Micro-needling session 1" in text
    assert "ibuprofen" in text  # day-of rule
    assert "glycolic acid" in text  # day 1
    assert "dry and flaky" in text  # days 2-7
    assert "Sun protection" in text and "SPF 30" in text
    assert "When to call the clinic" in text and "020 7946 0000" in text
    assert plan.notice.split(".")[0] in text
    pages = _pages(pdf, tmp_path)
    assert 2 <= pages <= len(plan.course.sessions) + 2, pages  # about a page per session at most
    assert f"page {pages} of {pages}" in text


def test_short_plan_fits_on_few_pages_and_shows_the_clinic_logo(tmp_path: Path) -> None:
    from datetime import date

    plan = make_plan([date(2027, 3, 1)])
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(logo)
    pdf = render_pdf(plan, HandoutOptions(clinic_name="Tiny Clinic", logo=logo))
    text = _text(pdf, tmp_path)
    assert "Tiny Clinic" in text and "Mon 1 Mar 2027" in text and "Fri 26 Feb 2027" in text
    assert "Wed 3 Mar 2027 to Sun 7 Mar 2027" in text  # days 2-6 merged into one row
    assert "Mon 8 Mar 2027" in text and "Tue 9 Mar 2027" not in text  # last care day is day 7
    assert _pages(pdf, tmp_path) <= 2
    assert b"/Image" in pdf  # the clinic's logo is embedded


def _structure(pdf: bytes) -> tuple[object, dict[str, int]]:
    import io

    import pikepdf

    doc = pikepdf.open(io.BytesIO(pdf))
    counts: dict[str, int] = {}
    stack = [doc.Root.StructTreeRoot]
    while stack:
        node = stack.pop()
        if "/S" in node:
            counts[str(node.S)] = counts.get(str(node.S), 0) + 1
            if str(node.S) == "/Figure":
                assert str(node.get("/Alt", "")).strip(), "every figure has alternative text"
        kids = node.get("/K")
        kids = kids if isinstance(kids, pikepdf.Array) else [kids]
        stack += [k for k in kids if isinstance(k, pikepdf.Dictionary)]
    return doc, counts


def test_handout_is_a_tagged_accessible_pdf(kb: KnowledgeBase) -> None:
    """PDF/UA: marked content in a structure tree a screen reader follows, with language and title."""
    _case, plan = example_plan(kb)
    pdf = render_pdf(plan, HandoutOptions(clinic_name="Harbour Skin Clinic"), kb)
    doc, counts = _structure(pdf)
    root = doc.Root  # type: ignore[attr-defined]
    assert bool(root.MarkInfo.Marked) and str(root.Lang) == "en"
    assert bool(root.ViewerPreferences.DisplayDocTitle)
    assert doc.open_metadata().get("dc:title") == "Harbour Skin Clinic: your treatment plan"  # type: ignore[attr-defined]
    assert counts.get("/H1") == 1 and counts.get("/H2", 0) >= 4
    assert counts.get("/Table", 0) >= 1 and counts.get("/TH", 0) >= 4 and counts.get("/TD", 0) > 10
    assert counts.get("/L", 0) >= 1 and counts.get("/LI", 0) >= 1
    assert counts.get("/Figure") == 1  # the logo, with its alt text


def test_the_same_daily_advice_is_printed_once(kb: KnowledgeBase, tmp_path: Path) -> None:
    from cicatrix.engine.case import parse_case
    from cicatrix.engine.plan import plan_case

    # brown marks and comedones: sun protection, lightening cream and a retinoid each carry a
    # "sunscreen every morning" step
    assessment = {
        "date": "2026-11-20",
        "scars": [],
        "marks": [{"type": "pih", "count": 10}],
        "active_lesions": [{"type": "comedone", "count": 8}],
    }
    case = {"patient": {"id": "h-1", "phototype": "IV"}, "assessment": assessment}
    plan = plan_case(parse_case(case, kb), kb)
    spf_steps = {e.text for e in plan.timeline if e.code == "daily_spf"}
    assert len(spf_steps) >= 2, "the case must exercise the duplicate"
    text = _text(render_pdf(plan, HandoutOptions(), kb), tmp_path)
    assert sum(text.count(" ".join(t.split())) for t in spf_steps) == 1
    # no sessions: the home-care items are still listed
    assert not plan.course.sessions
    for r in plan.recommended:
        if r.scheduled:
            assert kb.treatments[r.treatment].plain_name in text


def test_the_handout_lists_the_warning_signs_after_a_procedure(kb: KnowledgeBase) -> None:
    from cicatrix.exports.pdf import handout_context

    _case, plan = example_plan(kb)
    assert plan.course.sessions
    call_when = handout_context(plan, HandoutOptions(), kb)["call_when"]
    assert any("fever or chills" in line and "dark or grey patches" in line for line in call_when)
