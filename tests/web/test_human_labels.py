"""People never see internal codes (issue 14 §6): every page of every role, for every demo
patient (a pregnant patient, keloids, active acne, phototype V-VI, a history of cold sores
added here, medications), shows labels from the knowledge data, never a snake_case code,
a code with its underscores turned into spaces, or a label doubled in brackets."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from tests.web.conftest import Demo

from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.storage.models import Patient, Plan

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
DOUBLED = re.compile(r"\(([^()]{1,60})\)\s*\(([^()]{1,60})\)")


def _same_thing(a: str, b: str) -> bool:
    """Two bracketed notes that name one thing twice, "(pregnant) (pregnancy)": a shared stem."""
    stems = {w[:5] for w in re.findall(r"[a-z]{5,}", a.casefold())}
    return bool(stems & {w[:5] for w in re.findall(r"[a-z]{5,}", b.casefold())})


def visible_text(page: str) -> str:
    """What a person reads: the text outside tags, scripts and styles, entities decoded."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html_lib.unescape(page).split())


def code_words(kb: KnowledgeBase) -> Iterator[str]:
    """Codes written as words ("tca cross", "boxcar shallow") where that is not how their label
    reads: the label words differently ("Boxcar, shallow"), or writes a word of it as an
    acronym ("TCA CROSS"). A code that is also plain English in its label ("Sun protection")
    may appear in prose."""
    groups = [kb.treatments, kb.conditions, kb.vocabulary, kb.scar_types, kb.marks, kb.lesions, kb.agents]
    for group in groups:
        for code, entry in group.items():
            if "_" not in code:
                continue
            words = code.replace("_", " ")
            label = str(getattr(entry, "name", None) or getattr(entry, "label", ""))
            acronym = any(w.upper() in label.split() and len(w) > 1 for w in words.split())
            if words not in label.casefold() or acronym:
                yield words


def problems(text: str, kb: KnowledgeBase) -> list[str]:
    found = [f"code {m}" for m in SNAKE.findall(text)]
    found += [f"doubled ({a}) ({b})" for a, b in DOUBLED.findall(text) if _same_thing(a, b) or SNAKE.search(b)]
    found += [f"code as words {w!r}" for w in code_words(kb) if re.search(rf"(?<![\w-]){re.escape(w)}\b", text)]
    return found


def _pages(demo: Demo) -> dict[str, list[str]]:
    with demo.app.state.db.session() as db:
        patient_ids = list(db.scalars(select(Patient.id).order_by(Patient.id)))
        plan_ids = list(db.scalars(select(Plan.id).order_by(Plan.id)))
    staff = ["/", "/patients"]
    for pid in patient_ids:
        staff += [f"/patients/{pid}", f"/patients/{pid}/edit"]
    clinician = [*staff, f"/patients/{patient_ids[0]}/assessments/new"]
    for plan in plan_ids:
        clinician += [f"/plans/{plan}", f"/plans/{plan}/course", f"/plans/{plan}/handout"]
    return {
        "clinician": clinician,
        "frontdesk": staff,
        "patient": ["/me", "/me/timeline", "/me/plan", "/me/learn"],
        "admin": ["/admin/users", "/admin/settings"],
    }


@pytest.fixture
def rich_demo(demo: Demo) -> Demo:
    """The demo clinic, its first patient also with a history of cold sores and keloids."""
    with demo.app.state.db.session() as db:
        p = db.scalars(select(Patient).order_by(Patient.id)).first()
        assert p is not None
        p.history = [*p.history, "herpes_simplex", "keloid"]
        p.medications = [*p.medications, "warfarin"]
        db.commit()
    return demo


def test_no_page_shows_an_internal_code(rich_demo: Demo) -> None:
    demo = rich_demo
    kb = demo.app.state.kb
    seen: dict[str, list[str]] = {}
    for user, paths in _pages(demo).items():
        demo.login(user)
        for path in paths:
            r = demo.client.get(path)
            assert r.status_code == 200, (user, path, r.status_code)
            found = problems(visible_text(r.text), kb)
            if found:
                seen[f"{user} {path}"] = sorted(set(found))
    assert not seen, "\n".join(f"{where}: {', '.join(what)}" for where, what in seen.items())


def test_the_scanner_finds_what_people_complained_of(kb: KnowledgeBase) -> None:
    text = visible_text("<p>Excluded: herpes_simplex_history</p><li>Pregnancy (pregnant) (pregnancy)</li><td>tca cross session 1</td>")
    found = problems(text, kb)
    assert "code herpes_simplex_history" in found
    assert "doubled (pregnant) (pregnancy)" in found
    assert "code as words 'tca cross'" in found


def test_evidence_levels_are_explained_where_shown(demo: Demo) -> None:
    demo.login("clinician")
    with demo.app.state.db.session() as db:
        plan = db.scalars(select(Plan.id).order_by(Plan.id)).first()
    html = demo.client.get(f"/plans/{plan}").text
    kb = demo.app.state.kb
    assert 'id="evidence-legend"' in html
    legend = {html_lib.unescape(dt): html_lib.unescape(dd) for dt, dd in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html)}
    for info in kb.evidence_levels.values():  # the legend: every level, its label and meaning
        assert legend.get(info.label) == info.meaning
    shown = re.findall(r'<a class="evidence" href="#evidence-legend">([^<]+)</a>', html)
    assert shown and set(shown) <= {i.label for i in kb.evidence_levels.values()}
    assert 'id="evidence-legend"' in demo.client.get("/patients/1/assessments/new").text
