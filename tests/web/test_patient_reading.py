"""What the patient reads (issue 14 §6): Today gives each instruction once, however many
treatments ask for it; Learn does not repeat each heading as its first sentence."""

from __future__ import annotations

import re

from tests.web.conftest import Demo
from tests.web.test_human_labels import visible_text

from cicatrix.web.views import group_repeated


def test_today_shows_the_sunscreen_once(demo: Demo) -> None:
    demo.login("patient")
    api = demo.client.get("/api/patients/1/today").json()
    first = api["days"][0]["entries"]
    spf = [e for e in first if e.get("code") == "daily_spf"]
    assert len(spf) >= 3  # sun protection, the retinoid and the lightening cream each ask for it
    html = demo.client.get("/me").text
    today = visible_text(html.split('id="day-1"', 1)[1].split("</section>", 1)[0])
    assert today.count("SPF 30") == 1, today
    assert max((e["text"] for e in spf), key=len) in today  # the fullest wording


def test_grouping_keeps_different_steps_apart_and_the_latest_end() -> None:
    entries = [
        {"kind": "do", "code": "daily_spf", "uses": ["sunscreen"], "text": "SPF 30.", "until": "2027-01-01"},
        {"kind": "do", "code": "daily_spf", "uses": ["sunscreen"], "text": "SPF 30 every morning.", "until": "2027-03-01"},
        {"kind": "avoid", "code": "daily_spf", "uses": ["sunscreen"], "text": "Other kind.", "until": None},
        {"kind": "do", "code": None, "uses": [], "text": "Same words.", "until": None},
        {"kind": "do", "code": None, "uses": [], "text": "Same words.", "until": None},
    ]
    out = group_repeated(entries)
    assert [e["text"] for e in out] == ["SPF 30 every morning.", "Other kind.", "Same words."]
    assert out[0]["until"] == "2027-03-01"


def test_learn_does_not_repeat_each_heading_as_its_first_sentence(demo: Demo) -> None:
    demo.login("patient")
    html = demo.client.get("/me/learn").text
    sections = re.findall(r"<h[23][^>]*>(.*?)</h[23]>\s*<p>(.*?)</p>", html, re.S)
    assert len(sections) >= 3
    for title, text in sections:
        first_sentence = re.split(r"(?<=[.:!?])\s", visible_text(text), maxsplit=1)[0].rstrip(".:!?")
        assert first_sentence.casefold() != visible_text(title).casefold(), title
