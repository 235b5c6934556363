"""plan_case: the one function that turns an assessment into a screened, dated plan."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import msgspec
from msgspec.structs import replace

from cicatrix.engine.case import Case
from cicatrix.engine.conditions import active_conditions
from cicatrix.engine.course import Scheduled, build_course
from cicatrix.engine.index import index_for
from cicatrix.engine.recommend import matched_indications, present_targets, rank
from cicatrix.engine.result import Course, Education, Exclusion, Message, Plan, Recommendation, Severity
from cicatrix.engine.scores import score_assessment
from cicatrix.engine.screening import Screen, date_delays, left_out_steps, screen_all, step_skips
from cicatrix.engine.terms import FIELDS, unrecognised
from cicatrix.engine.timeline import build_timeline
from cicatrix.knowledge.models import Condition, EducationWhen, KnowledgeBase, Step, Treatment


class ClinicianOverride(msgspec.Struct, frozen=True):
    """A clinician's explicit decision to use an excluded treatment; the reason is mandatory."""

    treatment: str
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("an override needs a reason")


def apply_overrides(screens: dict[str, Screen], overrides: Iterable[ClinicianOverride]) -> dict[str, Screen]:
    out = dict(screens)
    for o in overrides:
        s = out.get(o.treatment)
        if s is None or not s.excluded:
            continue
        kept = tuple(Message(code=f"overridden_{r.code}", message=r.message) for r in s.reasons)
        note = Message(
            code="clinician_override", message=f"Excluded by screening; scheduled by clinician override: {o.reason}"
        )
        out[o.treatment] = replace(s, reasons=(), warnings=(note, *kept, *s.warnings))
    return out


def screen_case(
    case: Case,
    kb: KnowledgeBase,
    conditions: dict[str, tuple[Condition, str]],
    start: date,
    overrides: Iterable[ClinicianOverride] = (),
) -> dict[str, Screen]:
    """Every treatment's screen for this case: the matrix's decisions, delays dated from the
    case, then the clinician's overrides (which lift an exclusion but never a delay's date)."""
    return apply_overrides(date_delays(screen_all(kb, conditions), case, start, kb.policy.delay), overrides)


def _education(
    case: Case, kb: KnowledgeBase, conditions: dict[str, tuple[Condition, str]], course: Course
) -> tuple[Education, ...]:
    a = case.assessment
    out: list[Education] = []
    for lesion_id in dict.fromkeys(e.type for e in a.active_lesions if e.count > 0):
        lesion = kb.lesions[lesion_id]
        out.append(Education(topic=lesion_id, text=lesion.advice, sources=lesion.sources))
    for mark_id in dict.fromkeys(e.type for e in a.marks if e.count > 0):
        mark = kb.marks[mark_id]
        out.append(Education(topic=mark_id, text=mark.advice, sources=mark.sources))
    flags: dict[EducationWhen, bool] = {
        "always": True,
        "active_acne": any(e.count > 0 for e in a.active_lesions),
        "inflamed_acne": any(e.count > 0 and kb.lesions[e.type].inflamed for e in a.active_lesions),
        "marks": any(e.count > 0 for e in a.marks),
        "pih": any(e.count > 0 and e.type == "pih" for e in a.marks),
        "atrophic": any(e.count > 0 and kb.scar_types[e.type].category == "atrophic" for e in a.scars),
        "hypertrophic": any(e.count > 0 and kb.scar_types[e.type].category == "hypertrophic" for e in a.scars),
        "high_phototype": "high_phototype_pih_risk" in conditions,
        "procedure": bool(course.sessions),
    }
    for topic in kb.education.values():
        if all(flags[w] for w in topic.when_all):
            out.append(Education(topic=topic.id, text=f"{topic.title}. {topic.text}", sources=topic.sources))
    return tuple(out)


def _choose(
    case: Case, kb: KnowledgeBase, recommended: tuple[Recommendation, ...], case_severity: Severity | None
) -> tuple[list[Treatment], dict[str, Message], list[Message]]:
    """Pick the treatments for the course; return them and why others were left unscheduled."""
    prefs = case.preferences
    by_id = {r.treatment: r for r in recommended}
    skipped: dict[str, Message] = {}
    notes: list[Message] = []

    def fits(tid: str) -> bool:
        t = kb.treatments[tid]
        limit = prefs.max_downtime_days
        if t.schedule == "sessions" and limit is not None and t.protocol.downtime_days.max > limit:
            text = kb.policy.downtime_warning.format(downtime=t.protocol.downtime_days.max, limit=limit)
            skipped[tid] = Message(code="downtime_exceeds_preference", message=text)
            return False
        return True

    def indicated(tid: str) -> bool:
        # a requested treatment with no indication for anything recorded is not booked (a steroid
        # injection requested for atrophic scars would deepen them); the plan says why
        if not index_for(kb).indication_targets[tid].isdisjoint(present_targets(case)):
            return True
        skipped[tid] = Message(
            code="not_indicated", message="it is not indicated for any of the recorded findings; record them first."
        )
        return False

    if prefs.treatments is not None:
        # the request chooses the sessions; the daily care the findings call for (sun protection,
        # lightening, retinoid) stays, as in a default course, unless the request names it anyway
        asked = [tid for tid in prefs.treatments if tid in by_id and indicated(tid) and fits(tid)]
        daily_care = [r.treatment for r in recommended if kb.treatments[r.treatment].schedule == "continuous"]
        # an alternative (azelaic acid) the request did not name stands in only where nothing it
        # replaces is booked, as in a default course; a requested one is booked as asked
        ids = _standing_in([*asked, *daily_care], kb, skipped, keep=frozenset(asked))
    else:
        ids = []
        weights = kb.policy.ranking.line_weights
        for target in present_targets(case):
            # the best treatment *for this target*: its line for the target, then the staged order of
            # the data's phases (focal and surgical before resurfacing, as in staged plans), then rank.
            # When daily care is a better line than every session treatment for the target (PIH:
            # lightening cream and sunscreen first, peels second), no session is booked for it;
            # the continuous treatments are added below.
            candidates = [
                (
                    -max(
                        weights.get(i.line, 0.0) for i in kb.treatments[r.treatment].indications if i.target == target
                    ),
                    kb.treatments[r.treatment].phase,
                    r.rank,
                    r.treatment,
                )
                for r in recommended
                if target in r.targets
            ]
            daily = [c[0] for c in candidates if kb.treatments[c[-1]].schedule == "continuous"]
            for neg_line, *_order, tid in sorted(candidates):
                if kb.treatments[tid].schedule == "continuous":
                    continue
                if daily and neg_line > min(daily):
                    break
                if fits(tid):
                    ids.append(tid)
                    break
        combo = kb.policy.combination
        severity = case_severity
        if combo and severity in combo.severities and not any(kb.treatments[t].resurfacing for t in ids):
            for r in recommended:
                t = kb.treatments[r.treatment]
                if t.resurfacing and t.schedule == "sessions" and fits(t.id):
                    ids.append(t.id)
                    notes.append(Message(code="combination_added", message=f"{combo.text} Added: {t.name}."))
                    break
        ids += [r.treatment for r in recommended if kb.treatments[r.treatment].schedule == "continuous"]
        ids = _standing_in(ids, kb, skipped)
    return [kb.treatments[tid] for tid in dict.fromkeys(ids)], skipped, notes


def _standing_in(
    ids: list[str], kb: KnowledgeBase, skipped: dict[str, Message], keep: frozenset[str] = frozenset()
) -> list[str]:
    """Drop an alternative (azelaic acid) while a treatment it stands in for is booked, unless it
    is in `keep` (requested); say why."""
    booked = set(ids)
    kept = []
    for tid in ids:
        alt = kb.treatments[tid].alternative
        if alt is not None and tid not in keep and not booked.isdisjoint(alt.to):
            skipped[tid] = Message(code="alternative_not_scheduled", message=alt.note)
            continue
        kept.append(tid)
    return kept


def plan_case(case: Case, kb: KnowledgeBase, overrides: Iterable[ClinicianOverride] = ()) -> Plan:
    """Score, screen, rank, schedule and write the timeline. Pure: same input, same plan."""
    a, prefs = case.assessment, case.preferences
    conditions = active_conditions(case, kb)
    scores = score_assessment(a, kb)
    severity: Severity | None = scores.severity
    overrides = tuple(overrides)
    start = plan_start(case)
    screens = screen_case(case, kb, conditions, start, overrides)
    targets = present_targets(case)
    requested = prefs.treatments or ()

    warnings: list[Message] = list(scores.warnings)
    lesions = {e.type for e in a.active_lesions if e.count > 0}
    for rule in kb.policy.global_rules:
        if rule.condition in conditions or not lesions.isdisjoint(rule.lesions_any):
            warnings.append(Message(code=rule.code, message=rule.message))
    for kind, name in FIELDS.items():  # free text the clinic allowed: kept, never screened, never silent
        for term in unrecognised(kind, getattr(case.patient, name), kb):
            text = kb.policy.vocabulary.unrecognised_warning.format(field=f"patient.{name}", term=term)
            warnings.append(Message(code="unrecognised_term", message=text))
    extra: dict[str, tuple[Message, ...]] = {}
    for tid in requested:
        s = screens[tid]
        if s.excluded:
            why = "; ".join(r.message for r in s.reasons)
            warnings.append(
                Message(
                    code="requested_treatment_excluded",
                    message=f"{s.treatment.name} was requested but is excluded: {why}",
                )
            )
        elif not any(ind.target in targets for ind in s.treatment.indications):
            extra[tid] = (
                Message(
                    code="not_indicated",
                    message=f"{s.treatment.name} was requested but is not indicated for the recorded findings.",
                ),
            )
        elif not matched_indications(s.treatment, targets, severity):
            # indicated for these findings only at other severities: ranked and booked as asked,
            # with the reason in view, instead of vanishing from the plan
            extra[tid] = (
                Message(
                    code="not_indicated_at_severity",
                    message=(
                        f"{s.treatment.name} was requested; for the recorded findings it is indicated at other "
                        f"severities than this one ({severity or 'not graded'})."
                    ),
                ),
            )
    if overrides:  # only an override adds this warning; kept in the screens' order
        ids = {o.treatment for o in overrides}
        warnings += [
            w
            for tid, s in screens.items()
            if tid in ids and not s.excluded
            for w in s.warnings
            if w.code == "clinician_override"
        ]

    indicated = index_for(kb).indication_targets
    present = frozenset(targets)
    excluded = tuple(
        Exclusion(treatment=tid, name=s.treatment.name, reasons=s.reasons)
        for tid, s in screens.items()
        if s.reasons and (not indicated[tid].isdisjoint(present) or tid in requested)
    )
    recommended = rank(case, kb, screens, severity, extra)
    chosen, skipped, choice_notes = _choose(case, kb, recommended, severity)

    skips, bans = step_skips(kb, screens, (t.id for t in chosen))
    if skips:
        warnings += left_out_steps(kb, screens, skips, bans)
    order = {r.treatment: r.rank for r in recommended}
    sessions_first = sorted((t for t in chosen if t.schedule == "sessions"), key=lambda t: (t.phase, order[t.id]))
    course = build_course(
        [
            Scheduled(t, screens[t.id].not_before, steps=_kept(screens[t.id].steps, skips.get(t.id)))
            for t in sessions_first
        ],
        start,
        a.date,
        kb,
        more_notes=(*skipped.values(), *choice_notes),
        start_requested=prefs.start is not None,
    )
    continuous = [t for t in chosen if t.schedule == "continuous"]
    timeline = build_timeline(course, kb, {tid: s.steps for tid, s in screens.items()}, continuous, start, skips)

    chosen_ids = {t.id for t in chosen}
    # every requested treatment is accounted for: booked, excluded (warned above), or said why not
    for tid in dict.fromkeys(requested):
        if tid in chosen_ids or screens[tid].excluded:
            continue
        t = kb.treatments[tid]
        why = skipped[tid].message if tid in skipped else "not ranked for the recorded findings."
        warnings.append(Message(code="requested_not_booked", message=f"{t.name} was requested but not booked: {why}"))
    return Plan(
        case_id=case.patient.id,
        knowledge_version=kb.label,
        notice=kb.policy.notice,
        scores=scores,
        recommended=tuple(
            replace(
                r,
                scheduled=r.treatment in chosen_ids,
                warnings=r.warnings + ((skipped[r.treatment],) if r.treatment in skipped else ()),
            )
            for r in recommended
        ),
        excluded=excluded,
        warnings=tuple(dict.fromkeys(warnings)),
        education=_education(case, kb, conditions, course),
        course=course,
        timeline=timeline,
    )


def _kept(steps: tuple[Step, ...], skip: frozenset[str] | None) -> tuple[Step, ...]:
    """The added steps that stay in the plan (none of their `uses` is banned for this patient)."""
    return steps if not skip else tuple(st for st in steps if skip.isdisjoint(st.uses))


def plan_start(case: Case) -> date:
    return max(case.preferences.start or case.assessment.date, case.assessment.date)
