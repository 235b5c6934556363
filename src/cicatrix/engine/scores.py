"""Goodman & Baron quantitative, ECCA, qualitative grade and severity, from the scale data."""

from __future__ import annotations

from collections.abc import Iterable

from cicatrix.engine.case import Assessment, MarkEntry, ScarEntry
from cicatrix.engine.index import RowMatchers, index_for
from cicatrix.engine.result import Message, ScoreRow, Scores, Severity
from cicatrix.knowledge.models import AreaBand, CountBand, KnowledgeBase, Matcher


def _matches(m: Matcher, entry: ScarEntry | MarkEntry) -> bool:
    if isinstance(entry, MarkEntry):
        return m.mark == entry.type
    if m.scar != entry.type:
        return False
    if m.depth == "none" and entry.depth is not None:
        return False
    if m.depth in ("shallow", "deep") and entry.depth != m.depth:
        return False
    if m.age_months_lt is not None or m.age_months_gte is not None:
        if entry.age_months is None:
            return m.when_age_missing
        if m.age_months_lt is not None and entry.age_months >= m.age_months_lt:
            return False
        if m.age_months_gte is not None and entry.age_months < m.age_months_gte:
            return False
    if m.by_area:
        if entry.area_cm2 is None:
            return m.when_area_missing
        each = entry.area_cm2 / entry.count if entry.count else entry.area_cm2
        if m.area_each_cm2_lt is not None and each >= m.area_each_cm2_lt:
            return False
        if m.area_each_cm2_gte is not None and each < m.area_each_cm2_gte:
            return False
    return True


def _recorded(a: Assessment) -> frozenset[str]:
    return frozenset([e.type for e in a.scars] + [e.type for e in a.marks])


def _matching(row: RowMatchers, a: Assessment, recorded: frozenset[str]) -> list[ScarEntry | MarkEntry]:
    """The recorded entries (scars, then marks, in input order) that feed a row; `recorded` is
    every scar and mark type in the assessment, so a row naming none of them is skipped at once."""
    hits: list[ScarEntry | MarkEntry] = []
    if row.types.isdisjoint(recorded):
        return hits
    for s in a.scars:
        ms = row.scars.get(s.type)
        if ms and s.count > 0 and any(_matches(m, s) for m in ms):
            hits.append(s)
    hits += [m for m in a.marks if m.count > 0 and m.type in row.marks]
    return hits


def count_band(bands: Iterable[CountBand], count: int) -> int:
    for band in bands:
        if band.max is None or count <= band.max:
            return band.value
    raise ValueError(f"no band covers count {count}")  # the data's last band is open-ended


def area_points(bands: tuple[AreaBand, ...], area: float) -> int:
    for band in bands:
        if band.upto is None or area < band.upto or (band.inclusive and area <= band.upto):
            return band.points
    raise ValueError(f"no band covers area {area}")


def _inputs(entries: list[ScarEntry | MarkEntry]) -> tuple[str, ...]:
    return tuple(sorted({e.type for e in entries}))


def goodman_baron_quantitative(
    a: Assessment, kb: KnowledgeBase
) -> tuple[int, tuple[ScoreRow, ...], tuple[Message, ...]]:
    scale = kb.scales.goodman_baron_quantitative
    recorded = _recorded(a)
    rows: list[ScoreRow] = []
    warnings: list[Message] = []
    index = index_for(kb)
    for row, row_matchers in zip(scale.rows, index.gb_rows, strict=True):
        hits = _matching(row_matchers, a, recorded)
        if not hits:
            continue
        count = sum(e.count for e in hits)
        m = count_band(scale.multipliers, count)
        area: float | None = None
        if row_matchers.by_area:  # the broad atrophic rows: show the area they were decided by
            areas = [e.area_cm2 for e in hits if isinstance(e, ScarEntry) and e.area_cm2 is not None]
            area = round(float(sum(areas)), 3) if areas else None
            if row.missing_area_warning and len(areas) < len(hits):
                warnings.append(Message(code="gb_area_missing", message=row.missing_area_warning))
        rows.append(
            ScoreRow(
                id=row.id,
                label=row.label,
                inputs=_inputs(hits),
                count=count,
                area_cm2=area,
                multiplier=m,
                points=row.points * m,
            )
        )
    for arow, row_matchers in zip(scale.area_rows, index.gb_area_rows, strict=True):
        hits = _matching(row_matchers, a, recorded)
        if not hits:
            continue
        areas = [e.area_cm2 for e in hits if isinstance(e, ScarEntry) and e.area_cm2 is not None]
        area = float(sum(areas))
        if len(areas) < len(hits):
            warnings.append(Message(code="gb_area_missing", message=arow.missing_area_warning))
        points = area_points(arow.bands, area)
        rows.append(
            ScoreRow(
                id=arow.id,
                label=arow.label,
                inputs=_inputs(hits),
                count=sum(e.count for e in hits),
                area_cm2=round(area, 3),
                points=points,
            )
        )
    return sum(r.points for r in rows), tuple(rows), tuple(warnings)


def _measured(a: Assessment, kb: KnowledgeBase) -> tuple[frozenset[str], list[ScarEntry]]:
    """The scar types ECCA sizes, and the recorded entries of those types that carry a diameter."""
    by_diameter = kb.scales.ecca.by_diameter
    if by_diameter is None:
        return frozenset(), []
    types = frozenset(by_diameter.scars)
    return types, [s for s in a.scars if s.count > 0 and s.diameter_mm is not None and s.type in types]


def _unsized(a: Assessment, kb: KnowledgeBase, types: frozenset[str], counted: set[int]) -> tuple[Message, ...]:
    """A warning naming the measured scar types that no item counted: no diameter, and no item
    names their morphology (linear scars)."""
    by_diameter = kb.scales.ecca.by_diameter
    missed = {s.type: None for s in a.scars if s.count > 0 and s.type in types and id(s) not in counted}
    if by_diameter is None or not missed:
        return ()
    names = ", ".join(kb.scar_types[t].name.lower() + " scars" for t in missed)
    return (Message(code="ecca_diameter_missing", message=by_diameter.missing_diameter_warning.format(scars=names)),)


def ecca(a: Assessment, kb: KnowledgeBase) -> tuple[int, tuple[ScoreRow, ...], tuple[Message, ...]]:
    """ECCA items. A measured atrophic scar with a diameter counts in the item of its size;
    without one, in the item that names its morphology (the data's documented fallback)."""
    scale = kb.scales.ecca
    recorded = _recorded(a)
    items: list[ScoreRow] = []
    warnings: list[Message] = []
    types, sized = _measured(a, kb)
    counted: set[int] = set()
    for item, row_matchers in zip(scale.items, index_for(kb).ecca_items, strict=True):
        hits = _matching(row_matchers, a, recorded)
        if sized:
            hits = [e for e in hits if not (isinstance(e, ScarEntry) and e.type in types and e.diameter_mm is not None)]
            band = item.diameter_mm
            if band is not None:
                hits += [s for s in sized if s.diameter_mm is not None and band.contains(s.diameter_mm)]
        counted.update(id(e) for e in hits)
        if not hits:
            continue
        count = sum(e.count for e in hits)
        grade = count_band(scale.count_grades, count)
        if item.missing_age_warning and any(isinstance(e, ScarEntry) and e.age_months is None for e in hits):
            warnings.append(Message(code="ecca_age_missing", message=item.missing_age_warning))
        items.append(
            ScoreRow(
                id=item.id, label=item.label, inputs=_inputs(hits), count=count, grade=grade, points=item.weight * grade
            )
        )
    warnings += _unsized(a, kb, types, counted)
    return sum(i.points for i in items), tuple(items), tuple(warnings)


def severity(a: Assessment, gb_quant: int, kb: KnowledgeBase) -> tuple[Severity | None, str, tuple[Message, ...]]:
    """Severity from the qualitative grade; otherwise the data's labelled default rule."""
    if a.goodman_baron_qualitative is not None:
        for g in kb.scales.goodman_baron_qualitative.grades:
            if g.grade == a.goodman_baron_qualitative:
                return g.severity, "goodman_baron_qualitative", ()
    fallback = kb.scales.severity_fallback
    scars = [s for s in a.scars if s.count > 0]
    marks = [m for m in a.marks if m.count > 0]
    if not scars and not marks:
        return None, "nothing_recorded", ()
    note = (Message(code="severity_estimated", message=fallback.warning),)
    if all(kb.scar_types[s.type].category == "macular" for s in scars):
        return fallback.macular_only, fallback.basis, note
    for band in fallback.quantitative_bands:
        if band.max is None or gb_quant <= band.max:
            return band.severity, fallback.basis, note
    raise ValueError("severity bands must end open-ended")  # enforced by the data


def score_assessment(a: Assessment, kb: KnowledgeBase) -> Scores:
    gb_total, gb_rows, gb_warn = goodman_baron_quantitative(a, kb)
    ecca_total, ecca_items, ecca_warn = ecca(a, kb)
    sev, basis, sev_warn = severity(a, gb_total, kb)
    return Scores(
        goodman_baron_quantitative=gb_total,
        goodman_baron_quantitative_rows=gb_rows,
        ecca=ecca_total,
        ecca_items=ecca_items,
        goodman_baron_qualitative=a.goodman_baron_qualitative,
        severity=sev,
        severity_basis=basis,
        warnings=gb_warn + ecca_warn + sev_warn,
    )
