"""Outcome trends: the scores of successive assessments plus any outcome a clinician records."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from cicatrix.service import audit, patients
from cicatrix.service.context import Context
from cicatrix.service.errors import Invalid
from cicatrix.service.schemas import OutcomeIn, OutcomePoint, OutcomeSeries, OutcomesOut
from cicatrix.storage.db import utcnow
from cicatrix.storage.models import Assessment, Outcome

SCORE_MEASURES = ("goodman_baron_quantitative", "ecca", "goodman_baron_qualitative")


def _series(measure: str, points: list[OutcomePoint]) -> OutcomeSeries:
    points.sort(key=lambda p: (p.date, p.assessment_id or 0, p.outcome_id or 0))
    base = points[0].value if points else None
    last = points[-1].value if points else None
    change = None if base is None or last is None else last - base
    pct = None if change is None or not base else round(100.0 * change / base, 1)
    return OutcomeSeries(measure=measure, points=points, baseline=base, latest=last, change=change, change_percent=pct)


def trends(ctx: Context, patient_id: int) -> OutcomesOut:
    """Score series from first to latest assessment; a falling score means improvement."""
    p = patients.load(ctx, patient_id, "outcome.read")
    found: dict[str, list[OutcomePoint]] = defaultdict(list)
    rows = ctx.db.execute(
        select(
            Assessment.id,
            Assessment.date,
            Assessment.goodman_baron_quantitative,
            Assessment.ecca,
            Assessment.goodman_baron_qualitative,
        ).where(Assessment.patient_id == p.id)
    ).all()
    for aid, d, gbq, ecca, qual in rows:
        found["goodman_baron_quantitative"].append(OutcomePoint(date=d, value=gbq, assessment_id=aid))
        found["ecca"].append(OutcomePoint(date=d, value=ecca, assessment_id=aid))
        if qual is not None:
            found["goodman_baron_qualitative"].append(OutcomePoint(date=d, value=qual, assessment_id=aid))
    for o in ctx.db.scalars(select(Outcome).where(Outcome.patient_id == p.id)):
        found[o.measure].append(
            OutcomePoint(date=o.date, value=o.value, assessment_id=o.assessment_id, outcome_id=o.id)
        )
    order = [m for m in SCORE_MEASURES if m in found] + sorted(m for m in found if m not in SCORE_MEASURES)
    audit.record(ctx, "read", "outcome", None, patient_id=p.id)
    result = OutcomesOut(patient_id=p.id, series=[_series(m, found[m]) for m in order])
    return result


def record(ctx: Context, patient_id: int, body: OutcomeIn) -> OutcomesOut:
    p = patients.load(ctx, patient_id, "outcome.create")
    if body.measure in SCORE_MEASURES:
        raise Invalid("measure", "scores come from assessments; post an assessment instead")
    if body.date > ctx.today:
        raise Invalid("date", "is in the future", value=body.date.isoformat())
    o = Outcome(
        clinic_id=p.clinic_id,
        patient_id=p.id,
        assessment_id=None,
        date=body.date,
        measure=body.measure,
        value=body.value,
        note=body.note,
        recorded_by=ctx.actor.user_id,
        recorded_at=utcnow(),
    )
    ctx.db.add(o)
    ctx.db.flush()
    audit.record(ctx, "create", "outcome", o.id, patient_id=p.id)
    return trends(ctx, patient_id)
