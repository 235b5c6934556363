"""Clinical acceptance: realistic patients, each judged against what the clinical reference requires.

The expectations in cases.yaml were written from shared/knowledge/clinical-reference.md, not from
cicatrix's knowledge data or code, and are checked on the plan as a person reads it (its JSON): what
is booked, what each day tells the patient, what the clinician is warned about. They complement the
property tests, which check the same rules over generated patients against an oracle.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from cicatrix.engine.case import parse_case
from cicatrix.engine.plan import plan_case
from cicatrix.knowledge.loader import load_knowledge

CASES = yaml.safe_load((Path(__file__).with_name("cases.yaml")).read_text())["cases"]
KB = load_knowledge()

# words by which a patient recognises an agent in an instruction to use it, and in one to avoid it
# ("acids or scrubs" forbids an azelaic acid cream too)
AGENT_WORDS = {
    "retinoid": (("retinoid",), ("retinoid",)),
    "lightening": (("hydroquinone", "lightening cream"), ("hydroquinone", "lightening cream")),
    "azelaic acid": (("azelaic",), ("azelaic", "acids")),
}
HYDROQUINONE_MAX_DAYS = 12 * 7  # "reassess at 8-12 weeks" (Davis & Callender 2010)


def _plan(case: dict[str, Any]) -> dict[str, Any]:
    data = msgspec.to_builtins(plan_case(parse_case(case, KB), KB))
    assert isinstance(data, dict)
    return data


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _booked(plan: dict[str, Any]) -> dict[str, list[date]]:
    out: dict[str, list[date]] = {}
    for s in plan["course"]["sessions"]:
        out.setdefault(s["treatment"], []).append(_day(s["date"]))
    for m in plan["course"]["maintenance"]:
        out.setdefault(m["treatment"], []).append(_day(m["date"]))
    return out


def _texts(plan: dict[str, Any]) -> list[str]:
    texts = [w["message"] for w in plan["warnings"]]
    texts += [e["text"] for e in plan["education"]]
    texts += [e["text"] for e in plan["timeline"]]
    texts += [n["message"] for n in plan["course"]["notes"]]
    for r in plan["recommended"]:
        texts += [w["message"] for w in r["warnings"]] + [a["message"] for a in r["adjustments"]]
    for x in plan["excluded"]:
        texts += [r["message"] for r in x["reasons"]]
    return [t.lower() for t in texts]


def _span(entry: dict[str, Any]) -> tuple[date, date]:
    start = _day(entry["date"])
    return start, _day(entry["until"]) if entry.get("until") else start


def _mentions(entry: dict[str, Any], words: tuple[str, ...]) -> bool:
    text = entry["text"].lower()
    return any(w in text for w in words)


@pytest.mark.parametrize("spec", CASES, ids=[c["id"] for c in CASES])
def test_clinical_case(spec: dict[str, Any]) -> None:
    case = spec["case"]
    plan = _plan(case)
    booked = _booked(plan)
    texts = _texts(plan)
    assessed = _day(str(case["assessment"]["date"]))
    why = spec["why"]

    for tid in spec.get("never_booked", ()):
        assert tid not in booked, f"{why} -- {tid} was booked on {booked.get(tid)}"
    for tid in spec.get("booked", ()):
        assert tid in booked, f"{why} -- {tid} was not booked"
    recs = {r["treatment"]: r for r in plan["recommended"]}
    for tid in spec.get("cautioned_if_booked", ()):
        if tid in booked:
            assert recs[tid]["warnings"], f"{why} -- {tid} is booked without any warning"
    for tid, when in spec.get("not_before", {}).items():
        early = [d for d in booked.get(tid, ()) if d < _day(str(when))]
        assert not early, f"{why} -- {tid} booked on {early}, before {when}"
    for word in spec.get("never_told_to_use", ()):
        told = [e["text"] for e in plan["timeline"] if e["kind"] == "do" and word.lower() in e["text"].lower()]
        assert not told, f"{why} -- told to use {word!r}: {told[:2]}"
    for word in spec.get("says", ()):
        assert any(word.lower() in t for t in texts), f"{why} -- the plan never says {word!r}"
    for words in spec.get("says_any", ()):
        assert any(w.lower() in t for t in texts for w in words), f"{why} -- the plan says none of {words}"
    for tid, word in spec.get("covered_around", {}).items():
        entries = [e for e in plan["timeline"] if word.lower() in e["text"].lower() and e["kind"] != "session"]
        for s in plan["course"]["sessions"]:
            if s["treatment"] != tid:
                continue
            day = _day(s["date"])
            before = any(_span(e)[0] < day for e in entries if _span(e)[1] >= day - timedelta(days=3))
            after = any(_span(e)[1] > day for e in entries if _span(e)[0] <= day + timedelta(days=1))
            assert before and after, f"{why} -- {word!r} does not cover both sides of {tid} on {day}"

    _check_invariants(case, plan, booked, texts, assessed)


def _check_invariants(
    case: dict[str, Any], plan: dict[str, Any], booked: dict[str, list[date]], texts: list[str], assessed: date
) -> None:
    # nothing before the patient was first seen
    early = [e["text"][:60] for e in plan["timeline"] if _day(e["date"]) < assessed]
    early += [f"session {d}" for days in booked.values() for d in days if d < assessed]
    assert not early, f"dated before the assessment on {assessed}: {early[:3]}"

    # every requested treatment is accounted for: booked (sessions, or daily care in the plan),
    # excluded with a reason, or named in a message
    excluded = {x["treatment"] for x in plan["excluded"]}
    scheduled = {r["treatment"] for r in plan["recommended"] if r["scheduled"]}
    for tid in (case.get("preferences") or {}).get("treatments") or ():
        t = KB.treatments[tid]
        named = any(n.lower() in txt for txt in texts for n in (t.name, t.plain_name, tid))
        assert tid in booked or tid in scheduled or tid in excluded or named, f"requested {tid} vanished without a word"

    # no day both prescribes and forbids the same agent
    for agent, (use_words, avoid_words) in AGENT_WORDS.items():
        dos = [_span(e) for e in plan["timeline"] if e["kind"] == "do" and _mentions(e, use_words)]
        avoids = [_span(e) for e in plan["timeline"] if e["kind"] == "avoid" and _mentions(e, avoid_words)]
        clash = [(a, b) for a in dos for b in avoids if a[0] <= b[1] and b[0] <= a[1]]
        assert not clash, f"the same days tell the patient to use and to avoid {agent}: {clash[:2]}"

    # hydroquinone is a limited course with review, not months of daily use
    for e in plan["timeline"]:
        if e["kind"] == "do" and _mentions(e, AGENT_WORDS["lightening"][0]):
            start, end = _span(e)
            assert (end - start).days <= HYDROQUINONE_MAX_DAYS, f"lightening cream for {(end - start).days} days"
