"""What care steps use and avoid: the pause that keeps them apart, and the check that proves it.

A procedure's steps say on which days the patient keeps away from an agent (a retinoid, a
lightening cream, makeup); a daily treatment's steps say the patient uses it. An avoid always
wins, because it is the safety instruction: `pause_conflicts` cuts every entry that uses an
agent out of the days on which any entry avoids it, and around each gap in daily (ongoing) care
it dates a "stop" and a "resume" instruction in the agent's own words from the data.
`contradictions` lists any day that still both prescribes and forbids an agent; the property
tests prove it finds none in any plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

import msgspec
from msgspec.structs import replace

from cicatrix.engine.index import index_for
from cicatrix.engine.result import TimelineEntry
from cicatrix.knowledge.models import KnowledgeBase

_DAY = timedelta(days=1)
Span = tuple[date, date]  # first and last day, inclusive


class Contradiction(msgspec.Struct, frozen=True, kw_only=True):
    """Days on which one entry prescribes an agent and another forbids it."""

    agent: str
    first: date
    last: date
    used_by: str  # "treatment/code" of the entry that tells the patient to use it
    avoided_by: str  # ... and of the entry that tells the patient to keep away from it


def _span(e: TimelineEntry) -> Span:
    return (e.date, e.until or e.date)


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted spans, overlapping or back-to-back ones joined into one."""
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + _DAY:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _dated(e: TimelineEntry, first: date, last: date) -> TimelineEntry:
    return replace(e, date=first, until=last if last > first else None)


def _label(e: TimelineEntry) -> str:
    return f"{e.treatment or ''}/{e.code or e.kind}"


def _key_sets(kb: KnowledgeBase) -> Callable[[tuple[str, ...]], frozenset[str]]:
    """The names a step's `uses` or `avoids` stand for (see index.agent_keys), memoised per tuple."""
    index = index_for(kb)
    keys, memo = index.agent_keys, index.agent_key_sets

    def of(names: tuple[str, ...]) -> frozenset[str]:
        got = memo.get(names)
        if got is None:
            got = memo[names] = frozenset(k for n in names for k in keys.get(n, (n,)))
        return got

    return of


def pause_conflicts(entries: list[TimelineEntry], kb: KnowledgeBase) -> list[TimelineEntry]:
    """The entries with every use of an agent cut out of the days some entry avoids it, plus
    dated stop/resume instructions around each gap in ongoing care. Order is kept; the caller sorts."""
    of = _key_sets(kb)
    # cheap first: a plan has few distinct uses/avoids, and many plans use nothing that anything
    # avoids (sunscreen is used everywhere and avoided nowhere)
    uses = {e.uses for e in entries} - {()}
    avoids = {e.avoids for e in entries} - {()}
    if not uses or not avoids:
        return entries
    clash = frozenset().union(*map(of, uses)) & frozenset().union(*map(of, avoids))
    if not clash:
        return entries
    clashing = {u: sorted(of(u) & clash) for u in uses}
    avoided: dict[str, list[tuple[Span, TimelineEntry]]] = {}
    for e in entries:
        if e.avoids:
            ks = of(e.avoids) & clash
            if ks:
                span = _span(e)
                for k in sorted(ks):
                    avoided.setdefault(k, []).append((span, e))
    out: list[TimelineEntry] = []
    gaps: dict[str, list[tuple[Span, tuple[str, ...]]]] = {}  # per agent, for stop/resume entries
    notices: dict[tuple[str, Span], None] = {}
    added: list[TimelineEntry] = []
    for e in entries:
        names = clashing.get(e.uses)
        if not names:
            out.append(e)
            continue
        first, last = _span(e)
        cut = _merge(span for k in names for span, _by in avoided.get(k, ()) if span[0] <= last and span[1] >= first)
        if not cut:
            out.append(e)
            continue
        cursor = first
        for a, b in cut:
            if a > cursor:
                out.append(_dated(e, cursor, a - _DAY))
            cursor = max(cursor, b + _DAY)
        if cursor <= last:
            out.append(_dated(e, cursor, last))
        if e.phase == "ongoing":
            added += _notices(e, avoided, gaps, kb, notices)
    return out + added


def _agent_gaps(
    aid: str, avoided: dict[str, list[tuple[Span, TimelineEntry]]], kb: KnowledgeBase
) -> list[tuple[Span, tuple[str, ...]]]:
    """The runs of days on which some entry avoids `aid`, each with the sources of those entries."""
    spans = [(span, by) for k in sorted(index_for(kb).agent_keys[aid]) for span, by in avoided.get(k, ())]
    return [
        ((a, b), tuple(dict.fromkeys(s for span, by in spans if span[0] <= b and span[1] >= a for s in by.sources)))
        for a, b in _merge(span for span, _by in spans)
    ]


def _notices(
    e: TimelineEntry,
    avoided: dict[str, list[tuple[Span, TimelineEntry]]],
    gaps: dict[str, list[tuple[Span, tuple[str, ...]]]],
    kb: KnowledgeBase,
    seen: dict[tuple[str, Span], None],
) -> list[TimelineEntry]:
    """Stop and resume instructions for each agent `e` uses, around each gap cut into it.

    No stop when the gap starts before the care itself does (nothing to stop yet), no resume when
    the care ends inside the gap (a later course is the clinician's decision)."""
    keys = index_for(kb).agent_keys
    first, last = _span(e)
    out: list[TimelineEntry] = []
    for aid in sorted({k for name in e.uses for k in keys.get(name, (name,)) if k in kb.agents}):
        agent = kb.agents[aid]
        if not (agent.stop_text and agent.resume_text):
            continue  # the loader requires both for every agent that daily care uses and a step avoids
        if aid not in gaps:
            gaps[aid] = _agent_gaps(aid, avoided, kb)
        for (a, b), sources in gaps[aid]:
            if a <= first or a > last or (aid, (a, b)) in seen:
                continue
            seen[(aid, (a, b))] = None
            stop_last = min(b, last)
            out.append(
                TimelineEntry(
                    date=a,
                    until=stop_last if stop_last > a else None,
                    treatment=e.treatment,
                    kind="avoid",
                    phase="ongoing",
                    text=agent.stop_text,
                    code=f"stop_{aid}",
                    sources=sources or agent.sources,
                    avoids=(aid,),
                )
            )
            if b < last:
                out.append(
                    TimelineEntry(
                        date=b + _DAY,
                        treatment=e.treatment,
                        kind="do",
                        phase="ongoing",
                        text=agent.resume_text,
                        code=f"resume_{aid}",
                        sources=sources or agent.sources,
                        uses=(aid,),
                    )
                )
    return out


def contradictions(timeline: Iterable[TimelineEntry], kb: KnowledgeBase) -> tuple[Contradiction, ...]:
    """Every pair of entries where one prescribes and the other forbids the same agent on a shared day."""
    keys = index_for(kb).agent_keys
    entries = tuple(timeline)
    users = [(e, frozenset(k for n in e.uses for k in keys.get(n, (n,)))) for e in entries if e.uses]
    avoiders = [(e, frozenset(k for n in e.avoids for k in keys.get(n, (n,)))) for e in entries if e.avoids]
    found: list[Contradiction] = []
    for u, uk in users:
        u0, u1 = _span(u)
        for v, vk in avoiders:
            shared = uk & vk
            if not shared:
                continue
            v0, v1 = _span(v)
            a, b = max(u0, v0), min(u1, v1)
            if a > b:
                continue
            agent = min(k for k in shared if k in kb.agents) if any(k in kb.agents for k in shared) else min(shared)
            found.append(Contradiction(agent=agent, first=a, last=b, used_by=_label(u), avoided_by=_label(v)))
    return tuple(sorted(found, key=lambda c: (c.first, c.agent, c.used_by, c.avoided_by)))
