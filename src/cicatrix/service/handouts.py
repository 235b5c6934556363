"""The printed handout, for the front desk as well as clinicians (issue 14 §5).

The handout is what the patient takes home: the approved course and its day-by-day care. The
front desk may print it (`handout.print`) without reading plans otherwise: this reads the
approved plan only, and the page shows only the handout's parts of it.
"""

from __future__ import annotations

from cicatrix.service import audit, patients, plans, queries
from cicatrix.service.context import Context
from cicatrix.service.errors import NotFound
from cicatrix.service.policy import require_patient_access
from cicatrix.service.views import PlanView


def for_patient(ctx: Context, patient_id: int) -> PlanView:
    require_patient_access(ctx.actor, "handout.print", patient_id)
    p = patients.load(ctx, patient_id, "handout.print")
    row = queries.current_plan(ctx, p.id, approved_only=True)
    if row is None:
        raise NotFound("plan", "this patient has no approved plan yet")
    audit.record(ctx, "read", "handout", row.id, patient_id=p.id)
    return PlanView(plans.out(ctx, row), patients.out(ctx, p))
