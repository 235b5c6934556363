"""The bundled treatment files and the safety matrix carry the issues' treatments and rules.

These tests read the data, not the engine: a decision missing from the matrix would silently make
a plan unsafe, so each required (condition, treatment, decision) is listed here explicitly.
"""

from __future__ import annotations

import pytest

from cicatrix.knowledge.models import Decision, KnowledgeBase

TREATMENT_IDS = {
    "topical_retinoid", "chemical_peel_superficial", "chemical_peel_medium", "chemical_peel_deep",
    "tca_cross", "subcision", "punch_excision", "punch_elevation",
    "microneedling", "rf_microneedling",
    "laser_nonablative_fractional", "laser_ablative_fractional", "laser_ablative_full", "dermabrasion",
    "dermal_filler", "intralesional_steroid", "silicone_gel",
    "pih_lightening", "vascular_laser", "sun_protection", "azelaic_acid",
}  # fmt: skip
CONTINUOUS = {"topical_retinoid", "silicone_gel", "pih_lightening", "sun_protection", "azelaic_acid"}
PEELS = {"chemical_peel_superficial", "chemical_peel_medium", "chemical_peel_deep"}
RESURFACING = PEELS | {
    "laser_nonablative_fractional", "laser_ablative_fractional", "laser_ablative_full", "dermabrasion",
}  # fmt: skip
PHASE_1 = {"tca_cross", "subcision", "punch_excision", "punch_elevation"}
NON_PROCEDURES = {"topical_retinoid", "sun_protection", "pih_lightening", "silicone_gel", "azelaic_acid"}
PROCEDURES = TREATMENT_IDS - NON_PROCEDURES
DEEP = {"laser_ablative_full", "dermabrasion", "chemical_peel_deep"}
KELOID_EXCLUDED = {
    "microneedling", "rf_microneedling", "laser_ablative_fractional", "laser_ablative_full",
    "dermabrasion", "chemical_peel_deep", "chemical_peel_medium",
}  # fmt: skip
BRUISING_WARNED = {
    "subcision",
    "punch_excision",
    "punch_elevation",
    "rf_microneedling",
    "dermal_filler",
    "dermabrasion",
}
HIGH_PHOTOTYPE_EXCLUDED = DEEP
HIGH_PHOTOTYPE_PREFERRED = {"subcision", "tca_cross", "laser_nonablative_fractional", "rf_microneedling"}
ANTIVIRAL_FOR_EVERYONE = {"laser_ablative_full", "chemical_peel_medium", "chemical_peel_deep", "dermabrasion"}

# (condition code, treatment, decision) required by issue 2 section 4 and issue 10 sections 1-3.
REQUIRED: list[tuple[str, str, str]] = sorted(
    {("pregnancy", t, "exclude") for t in PROCEDURES - {"chemical_peel_superficial"}}
    | {("pregnancy", "chemical_peel_superficial", "warn")}
    | {("pregnancy", t, "exclude") for t in ("topical_retinoid", "pih_lightening")}
    | {("pregnancy", "sun_protection", "none")}
    | {("breastfeeding", "chemical_peel_deep", "exclude"), ("breastfeeding", "pih_lightening", "exclude")}
    | {("breastfeeding", "topical_retinoid", "warn"), ("breastfeeding", "microneedling", "none")}
    | {("recent_isotretinoin", t, "delay") for t in DEEP}
    | {("recent_isotretinoin", t, "none") for t in ("chemical_peel_superficial", "laser_ablative_fractional")}
    | {("recent_isotretinoin", "laser_nonablative_fractional", "none")}
    | {("keloid_history", t, "exclude") for t in KELOID_EXCLUDED}
    | {("keloid_history", t, "warn") for t in ("punch_excision", "tca_cross", "subcision")}
    | {("keloid_history", "laser_nonablative_fractional", "warn")}
    | {("immunosuppression", t, "exclude") for t in ("microneedling", "rf_microneedling", *DEEP)}
    | {("herpes_simplex_history", t, "warn") for t in RESURFACING | {"microneedling", "rf_microneedling"}}
    | {("high_phototype_pih_risk", t, "exclude") for t in HIGH_PHOTOTYPE_EXCLUDED}
    | {("high_phototype_pih_risk", t, "warn") for t in RESURFACING - HIGH_PHOTOTYPE_EXCLUDED}
    | {("phototype_v_vi", "chemical_peel_medium", "exclude"), ("phototype_v_vi", "vascular_laser", "warn")}
    | {(code, t, "warn") for code in ("anticoagulants", "bleeding_disorder") for t in BRUISING_WARNED}
    | {("recent_sunburn", t, "delay") for t in RESURFACING | {"microneedling", "rf_microneedling"}}
    | {("cardiac_disease", "chemical_peel_deep", "exclude")}
)


def _decision(kb: KnowledgeBase, code: str, tid: str) -> Decision:
    return kb.decision(code, tid)


def test_exactly_the_issue_treatments(kb: KnowledgeBase) -> None:
    assert set(kb.treatments) == TREATMENT_IDS


@pytest.mark.parametrize(("code", "treatment", "decision"), REQUIRED)
def test_required_decision(kb: KnowledgeBase, code: str, treatment: str, decision: str) -> None:
    assert _decision(kb, code, treatment).decision == decision


def test_every_decision_is_sourced_and_explained(kb: KnowledgeBase) -> None:
    for code in kb.conditions:
        for tid in kb.treatments:
            d = _decision(kb, code, tid)
            assert d.sources and d.evidence_level in kb.evidence_levels, (code, tid)
            assert d.decision == "none" or d.message, (code, tid)


def test_active_acne_excludes_every_procedure_and_nothing_else(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        d = _decision(kb, "active_inflammatory_acne", t.id)
        if t.category in ("procedure", "device", "injection"):
            assert d.decision == "exclude", t.id
            if t.id != "microneedling":  # seed-002 wording kept in the exemplar
                assert d.message and "control the acne first" in d.message, t.id
        else:
            assert d.decision == "none", t.id
    assert {t.id for t in kb.treatments.values() if t.category not in ("procedure", "device", "injection")} == (
        NON_PROCEDURES
    )


def test_isotretinoin_delays_only_deep_resurfacing_six_months_after_the_last_dose(kb: KnowledgeBase) -> None:
    delayed = {tid for tid in kb.treatments if _decision(kb, "recent_isotretinoin", tid).decision == "delay"}
    assert delayed == DEEP
    assert not any(_decision(kb, "recent_isotretinoin", tid).decision == "exclude" for tid in kb.treatments)
    for tid in DEEP:
        d = _decision(kb, "recent_isotretinoin", tid)
        assert d.wait is not None and (d.wait.after, d.wait.months, d.wait.days) == ("isotretinoin_last_dose", 6, 0)
        assert {"ref-47", "ref-49"} <= set(d.sources)
    # the deep-peel rule is an inference and says so
    peel = _decision(kb, "recent_isotretinoin", "chemical_peel_deep")
    assert peel.evidence_level == "U" and peel.message and "inference" in peel.message


def test_herpes_prophylaxis_steps(kb: KnowledgeBase) -> None:
    for tid in RESURFACING - ANTIVIRAL_FOR_EVERYONE:
        d = _decision(kb, "herpes_simplex_history", tid)
        assert "ref-51" in d.sources, tid
        step = {s.code: s for s in d.add_steps}["hsv_prophylaxis"]
        assert (step.offset, step.until, step.kind, step.uses) == (-1, 13, "do", ("antiviral",)), tid
        assert step.text.startswith("Take the antiviral medicine your clinician prescribed")
    for tid in ("microneedling", "rf_microneedling"):
        d = _decision(kb, "herpes_simplex_history", tid)
        (step,) = d.add_steps
        assert (step.code, step.offset, step.until, step.kind) == ("hsv_prophylaxis", -7, -1, "do")


def test_antiviral_cover_before_and_after_for_every_patient(kb: KnowledgeBase) -> None:
    for tid in ANTIVIRAL_FOR_EVERYONE:
        (step,) = [s for s in kb.treatments[tid].protocol.steps if "antiviral" in s.uses]
        assert step.offset < 0 < (step.until or 0), tid
        assert {"ref-81", "ref-82", "ref-51"} <= set(step.sources), tid
        # the history adds a warning, not a second course of tablets
        assert _decision(kb, "herpes_simplex_history", tid).add_steps == (), tid


def test_deep_peel_cardiac_precautions(kb: KnowledgeBase) -> None:
    codes = {s.code: s for s in kb.treatments["chemical_peel_deep"].protocol.steps}
    assert "ref-78" in codes["day_cardiac_monitoring"].sources and codes["cardiac_check"].offset < 0
    assert _decision(kb, "cardiac_disease", "chemical_peel_deep").decision == "exclude"


def test_high_phototype_warnings_add_test_spot_and_priming(kb: KnowledgeBase) -> None:
    for tid in RESURFACING - HIGH_PHOTOTYPE_EXCLUDED:
        d = _decision(kb, "high_phototype_pih_risk", tid)
        codes = {s.code: s for s in d.add_steps}
        assert codes["test_spot"].offset < codes["pigment_priming"].offset < 0, tid
        assert codes["pigment_priming"].until == -1 and codes["pigment_priming"].uses == ("hydroquinone",), tid
        assert all(s.kind == "do" for s in d.add_steps), tid


def test_high_phototype_preferences(kb: KnowledgeBase) -> None:
    preferred = {t.id for t in kb.treatments.values() if t.preferred_for is not None}
    assert preferred == HIGH_PHOTOTYPE_PREFERRED | {"microneedling"}
    for tid in HIGH_PHOTOTYPE_PREFERRED:
        pref = kb.treatments[tid].preferred_for
        assert pref is not None and set(pref.phototypes) == {"IV", "V", "VI"} and pref.bonus == 1.5


def test_recent_sunburn_postpones_two_weeks(kb: KnowledgeBase) -> None:
    for tid in RESURFACING | {"rf_microneedling", "microneedling"}:
        d = _decision(kb, "recent_sunburn", tid)
        assert d.wait is not None and (d.wait.after, d.wait.days) == ("assessment", 14), tid


def test_schedule_phase_and_resurfacing(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        assert t.schedule == ("continuous" if t.id in CONTINUOUS else "sessions"), t.id
        assert t.resurfacing == (t.id in RESURFACING), t.id
        expected_phase = 1 if t.id in PHASE_1 else 3 if t.id == "dermal_filler" else 2
        assert t.phase == expected_phase, t.id


def test_continuous_treatments_have_no_interval(kb: KnowledgeBase) -> None:
    for tid in CONTINUOUS:
        p = kb.treatments[tid].protocol
        assert p.interval_days is None, tid
        assert (p.sessions.min, p.sessions.max) == (1, 1), tid
        assert (p.downtime_days.min, p.downtime_days.max) == (0, 0), tid
        # daily care starts with the plan; a dated step within it (a review) comes later, never before
        assert p.steps and any(s.offset == 0 for s in p.steps) and all(s.offset >= 0 for s in p.steps), tid
    sp = kb.treatments["sun_protection"].protocol
    assert any(s.kind == "do" and "SPF 30" in s.text for s in sp.steps)


@pytest.mark.parametrize(
    ("tid", "sessions", "interval"),
    [
        ("tca_cross", 4, (14, 28)),
        ("laser_nonablative_fractional", 6, (21, 28)),
        ("laser_ablative_fractional", 2, (28, 90)),
        ("vascular_laser", 3, (14, 28)),
        ("intralesional_steroid", 3, (28, 42)),
        ("subcision", 3, (28, 90)),
        ("punch_excision", 1, (28, 56)),
        ("punch_elevation", 1, (28, 56)),
    ],
)
def test_sourced_intervals(kb: KnowledgeBase, tid: str, sessions: int, interval: tuple[int, int]) -> None:
    p = kb.treatments[tid].protocol
    assert p.planned_sessions == sessions
    assert p.interval_days is not None and (p.interval_days.min, p.interval_days.max) == interval


def test_punch_excision_suture_removal(kb: KnowledgeBase) -> None:
    steps = {s.code: s for s in kb.treatments["punch_excision"].protocol.steps}
    st = steps["suture_removal"]
    assert (st.offset, st.until, st.kind) == (8, 10, "do") and st.sources == ("ref-21",)


@pytest.mark.parametrize(
    ("target", "treatment", "line"),
    [
        ("ice_pick", "tca_cross", "first"),
        ("ice_pick", "punch_excision", "second"),
        ("rolling", "subcision", "first"),
        ("boxcar_deep", "punch_elevation", "first"),
        ("hypertrophic", "intralesional_steroid", "first"),
        ("hypertrophic", "silicone_gel", "first"),
        ("keloid", "intralesional_steroid", "first"),
        ("pih", "pih_lightening", "first"),
        ("pih", "sun_protection", "first"),
        ("pie", "vascular_laser", "first"),
        ("pie", "sun_protection", "adjunct"),
    ],
)
def test_issue_indication_mapping(kb: KnowledgeBase, target: str, treatment: str, line: str) -> None:
    lines = [i.line for i in kb.treatments[treatment].indications if i.target == target]
    assert lines == [line]


def test_severity_mapping(kb: KnowledgeBase) -> None:
    def severities(tid: str) -> set[str]:
        return {s for i in kb.treatments[tid].indications for s in i.severities}

    assert "mild" in severities("topical_retinoid") and "mild" in severities("chemical_peel_superficial")
    assert "moderate" in severities("chemical_peel_medium")
    assert "severe" in severities("laser_ablative_fractional")
    assert "seed-000" in {s for i in kb.treatments["topical_retinoid"].indications for s in i.sources}


def test_sun_protection_targets_every_scar_and_mark(kb: KnowledgeBase) -> None:
    targets = {i.target: i.line for i in kb.treatments["sun_protection"].indications}
    assert set(kb.scar_types) | set(kb.marks) <= set(targets)
    assert {line for target, line in targets.items() if target != "pih"} == {"adjunct"}


def test_entries_are_unique_and_honest(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        targets = [i.target for i in t.indications]
        assert len(targets) == len(set(targets)), f"{t.id}: duplicate indication target"
        codes = [s.code for s in t.protocol.steps]
        assert None not in codes and len(codes) == len(set(codes)), f"{t.id}: step codes"
        # cicatrix-default is our own default: whatever cites it cannot claim better than U.
        cited = [*t.indications, t.protocol, *t.protocol.steps]
        for entry in cited:
            if "cicatrix-default" in entry.sources:
                assert entry.evidence_level == "U", f"{t.id}: {entry!r}"[:200]


def test_matrix_decisions_are_honest(kb: KnowledgeBase) -> None:
    for rules in kb.safety.values():
        for d in rules.decisions:
            assert all(s.code for s in d.add_steps), rules.id
            for entry in (d, *d.add_steps):
                if "cicatrix-default" in entry.sources:
                    assert entry.evidence_level == "U", f"{rules.id}: {entry!r}"[:200]


def test_hydroquinone_course_is_limited_to_its_8_to_12_week_review(kb: KnowledgeBase) -> None:
    """ref-12: reassess hydroquinone at 8-12 weeks; the daily step ends at the review, not at follow-up."""
    steps = {s.code: s for s in kb.treatments["pih_lightening"].protocol.steps}
    daily, review = steps["daily_lightening"], steps["review_8_12_weeks"]
    assert "hydroquinone" in daily.uses and daily.until is not None and 56 <= daily.until <= 84
    assert (review.offset, review.until) == (56, 84) and "ref-12" in review.sources


def test_every_protocol_step_of_a_wounding_procedure_pauses_retinoids_and_lightening_through_recovery(
    kb: KnowledgeBase,
) -> None:
    """The pause is data: each resurfacing or wounding procedure avoids the daily actives from the
    procedure day through its downtime (micro-needling: through the day itself, as seed 002 says)."""
    for tid in RESURFACING | {"rf_microneedling", "tca_cross", "microneedling"}:
        t = kb.treatments[tid]
        covered = {
            d
            for s in t.protocol.steps
            if {"retinoid", "hydroquinone"} <= set(s.avoids)
            for d in range(s.offset, (s.until if s.until is not None else s.offset) + 1)
        }
        last = 0 if tid == "microneedling" else t.protocol.downtime_days.max
        assert set(range(0, last + 1)) <= covered, tid


def test_agents_that_daily_care_uses_and_procedures_avoid_have_stop_and_resume_texts(kb: KnowledgeBase) -> None:
    for aid in ("retinoid", "hydroquinone", "silicone"):
        assert kb.agents[aid].stop_text and kb.agents[aid].resume_text, aid


# words in a step's text and the agent they name; a step that tells the patient to keep away from
# one of these (kind avoid) must say so in `avoids`, and one that tells them to apply sunscreen in
# `uses`, or the timeline cannot keep the days coherent
_AGENT_WORDS = {
    "retinoid": "retinoid",
    "hydroquinone": "hydroquinone",
    "exfoliant": "exfoliant",
    "benzoyl peroxide": "benzoyl_peroxide",
    "topical antibiotic": "topical_antibiotic",
    "makeup": "makeup",
}


def test_every_protocol_step_names_in_uses_or_avoids_the_agents_its_words_name(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        for s in t.protocol.steps:
            text = s.text.lower()
            if s.kind == "avoid":
                named = {agent for word, agent in _AGENT_WORDS.items() if word in text}
                assert named <= set(s.avoids), (t.id, s.code, named - set(s.avoids))
            if s.kind == "do" and "sunscreen" in text:
                assert "sunscreen" in s.uses, (t.id, s.code)
