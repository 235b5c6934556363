"""Shaping service results for the pages: course timelines, day groups, names and citations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cicatrix.knowledge.models import KnowledgeBase
from cicatrix.service.schemas import PlanOut, SessionOut


@dataclass(frozen=True)
class CourseItem:
    date: date
    kind: str
    label: str
    status: str | None = None
    text: str | None = None


def _d(v: Any) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v))


def treatment_namer(kb: KnowledgeBase) -> Callable[[str], str]:
    def name(tid: str) -> str:
        t = kb.treatments.get(tid)
        return t.name if t else tid.replace("_", " ")

    return name


def labeler(kb: KnowledgeBase) -> Callable[..., str]:
    """The words people read for a code (issue 14 §6): with a `group`, the knowledge base's
    `labels` (statuses, severity, sex); without, the name the code's own entry gives it
    (treatment, condition, vocabulary term, scar type, mark, lesion, agent, education topic).
    Text that is no code (a medication typed as "Prograf 1 mg") is shown as it is."""
    named: tuple[tuple[Mapping[str, Any], str], ...] = (
        (kb.treatments, "name"),
        (kb.conditions, "name"),
        (kb.vocabulary, "label"),
        (kb.scar_types, "name"),
        (kb.marks, "name"),
        (kb.lesions, "name"),
        (kb.agents, "name"),
        (kb.education, "title"),
    )

    def label(code: object, group: str | None = None) -> str:
        if code is None or code == "":
            return ""
        text = str(code)
        if group is not None:
            # a code the data has no label for yet (a newer status) reads as words, not as a code
            return kb.labels.get(group, {}).get(text) or text.replace("_", " ").capitalize()
        for entries, attr in named:
            if text in entries:
                return str(getattr(entries[text], attr))
        return text

    return label


def plain_namer(kb: KnowledgeBase) -> Callable[[str], str]:
    def name(tid: str) -> str:
        t = kb.treatments.get(tid)
        return t.plain_name if t else tid.replace("_", " ")

    return name


def summarizer(kb: KnowledgeBase) -> Callable[[str], str]:
    def summary(tid: str) -> str:
        t = kb.treatments.get(tid)
        return t.summary if t else ""

    return summary


def citer(kb: KnowledgeBase) -> Callable[[str], str]:
    def cite(source_id: str) -> str:
        s = kb.sources.get(source_id)
        return f"{s.citation} [{source_id}]" if s else source_id

    return cite


def course_items(plan: PlanOut, kb: KnowledgeBase) -> list[CourseItem]:
    """Sessions as booked (with their status), then maintenance and the follow-up, by date."""
    name = treatment_namer(kb)
    items = [
        CourseItem(s.date, "session", f"{name(s.treatment)} session {s.number}", s.status)
        for s in plan.sessions
        if s.status != "cancelled" or plan.status == "superseded"
    ]
    course = plan.plan.get("course", {})
    for m in course.get("maintenance", []):
        items.append(
            CourseItem(_d(m["date"]), "maintenance", f"{name(m['treatment'])} maintenance", None, m.get("text"))
        )
    if course.get("follow_up"):
        items.append(CourseItem(_d(course["follow_up"]), "follow_up", "Follow-up assessment"))
    items.sort(key=lambda i: (i.date, i.kind != "session"))
    return items


@dataclass(frozen=True)
class Day:
    date: date
    entries: list[dict[str, Any]]


def group_by_start(timeline: Iterable[Mapping[str, Any]]) -> list[Day]:
    """Timeline entries grouped by the day they start, for the printed handout."""
    days: dict[date, list[dict[str, Any]]] = {}
    for e in timeline:
        days.setdefault(_d(e["date"]), []).append(dict(e))
    return [Day(d, days[d]) for d in sorted(days)]


def scheduled_options(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The recommended options that made it into the course, in rank order."""
    rec = [r for r in plan.get("recommended", []) if r.get("scheduled")]
    in_course = {s["treatment"] for s in plan.get("course", {}).get("sessions", [])}
    extra = [{"treatment": t, "name": t, "scheduled": True} for t in sorted(in_course - {r["treatment"] for r in rec})]
    return rec + extra


def group_repeated(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One line per instruction: the same step given by several treatments (a sunscreen every
    morning, from sun protection, a retinoid and a lightening cream) is shown once, in the
    fullest wording, running until the last of them ends. Steps are the same when they share
    kind, step code and what they use; steps without a code, when their text is the same."""
    grouped: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in entries:
        code = e.get("code")
        key = (e.get("kind"), code, tuple(sorted(e.get("uses") or ()))) if code else (e.get("kind"), e.get("text"))
        seen = grouped.get(key)
        if seen is None:
            grouped[key] = dict(e)
            continue
        if len(str(e.get("text", ""))) > len(str(seen.get("text", ""))):
            seen["text"] = e.get("text")
        ends = [u for u in (seen.get("until"), e.get("until")) if u]
        seen["until"] = max(ends, key=str) if ends else None
    return list(grouped.values())


def live_sessions(sessions: Iterable[SessionOut]) -> list[SessionOut]:
    return [s for s in sessions if s.status != "cancelled"]
