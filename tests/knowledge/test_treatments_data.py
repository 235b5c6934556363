"""The bundled treatment files carry the issue's treatment list and its section-4 safety rules.

These tests read the data, not the engine: a rule missing from a file would silently make a plan
unsafe, so each required (condition, treatment, effect) is listed here explicitly.
"""

from __future__ import annotations

import pytest

from cicatrix.knowledge.models import KnowledgeBase, Rule, Treatment

TREATMENT_IDS = {
    "topical_retinoid", "chemical_peel_superficial", "chemical_peel_medium", "chemical_peel_deep",
    "tca_cross", "subcision", "punch_excision", "punch_elevation",
    "microneedling", "rf_microneedling",
    "laser_nonablative_fractional", "laser_ablative_fractional", "laser_ablative_full", "dermabrasion",
    "dermal_filler", "intralesional_steroid", "silicone_gel",
    "pih_lightening", "vascular_laser", "sun_protection",
}  # fmt: skip
CONTINUOUS = {"topical_retinoid", "silicone_gel", "pih_lightening", "sun_protection"}
PEELS = {"chemical_peel_superficial", "chemical_peel_medium", "chemical_peel_deep"}
RESURFACING = PEELS | {
    "laser_nonablative_fractional", "laser_ablative_fractional", "laser_ablative_full", "dermabrasion",
}  # fmt: skip
PHASE_1 = {"tca_cross", "subcision", "punch_excision", "punch_elevation"}
NON_PROCEDURES = {"topical_retinoid", "sun_protection", "pih_lightening", "silicone_gel"}
DEFERRED_IN_PREGNANCY = {
    "chemical_peel_medium", "chemical_peel_deep", "laser_ablative_fractional", "laser_ablative_full",
}  # fmt: skip
KELOID_EXCLUDED = {
    "microneedling", "rf_microneedling", "laser_ablative_fractional", "laser_ablative_full",
    "dermabrasion", "chemical_peel_deep",
}  # fmt: skip
BRUISING_WARNED = {"subcision", "punch_excision", "punch_elevation", "rf_microneedling", "dermal_filler"}
HIGH_PHOTOTYPE_EXCLUDED = {"laser_ablative_full", "chemical_peel_deep", "dermabrasion"}
HIGH_PHOTOTYPE_PREFERRED = {"subcision", "tca_cross", "laser_nonablative_fractional", "rf_microneedling"}

# (condition code, treatment, effect) required by issue 2, section 4.
REQUIRED_RULES: list[tuple[str, str, str]] = sorted(
    {(code, t, "exclude") for code in ("pregnancy", "breastfeeding") for t in DEFERRED_IN_PREGNANCY}
    | {(code, "topical_retinoid", "exclude") for code in ("pregnancy", "breastfeeding")}
    | {(code, "pih_lightening", "exclude") for code in ("pregnancy", "breastfeeding")}
    | {("recent_isotretinoin", t, "exclude") for t in ("laser_ablative_full", "dermabrasion")}
    | {("keloid_history", t, "exclude") for t in KELOID_EXCLUDED}
    | {("keloid_history", "punch_excision", "warn")}
    | {("immunosuppression", t, "exclude") for t in ("microneedling", "rf_microneedling")}
    | {("herpes_simplex_history", t, "warn") for t in RESURFACING | {"microneedling", "rf_microneedling"}}
    | {("high_phototype_pih_risk", t, "exclude") for t in HIGH_PHOTOTYPE_EXCLUDED}
    | {("high_phototype_pih_risk", t, "warn") for t in RESURFACING - HIGH_PHOTOTYPE_EXCLUDED}
    | {(code, t, "warn") for code in ("anticoagulants", "bleeding_disorder") for t in BRUISING_WARNED}
    | {("recent_sunburn", t, "warn") for t in RESURFACING | {"microneedling", "rf_microneedling"}}
)


def _rule(t: Treatment, code: str) -> Rule | None:
    found = [r for r in t.rules() if r.code == code]
    assert len(found) <= 1, f"{t.id}: more than one rule for {code}"
    return found[0] if found else None


def test_exactly_the_issue_treatments(kb: KnowledgeBase) -> None:
    assert set(kb.treatments) == TREATMENT_IDS


@pytest.mark.parametrize(("code", "treatment", "effect"), REQUIRED_RULES)
def test_section_4_rule_present(kb: KnowledgeBase, code: str, treatment: str, effect: str) -> None:
    rule = _rule(kb.treatments[treatment], code)
    assert rule is not None, f"{treatment} has no {code} rule"
    assert rule.effect == effect


def test_pregnancy_deferral_says_so(kb: KnowledgeBase) -> None:
    for tid in DEFERRED_IN_PREGNANCY:
        for code in ("pregnancy", "breastfeeding"):
            rule = _rule(kb.treatments[tid], code)
            assert rule is not None
            assert "deferred until after pregnancy/breastfeeding" in rule.message


def test_active_acne_excludes_every_procedure_and_nothing_else(kb: KnowledgeBase) -> None:
    for t in kb.treatments.values():
        rule = _rule(t, "active_inflammatory_acne")
        if t.category in ("procedure", "device", "injection"):
            assert rule is not None and rule.effect == "exclude", t.id
            if t.id != "microneedling":  # seed-002 wording kept in the exemplar
                assert "control the acne first" in rule.message, t.id
                assert "no procedure in the affected area" in rule.message, t.id
        else:
            assert rule is None, t.id
    assert {t.id for t in kb.treatments.values() if t.category not in ("procedure", "device", "injection")} == (
        NON_PROCEDURES
    )


def test_isotretinoin_excludes_only_full_ablation_and_dermabrasion(kb: KnowledgeBase) -> None:
    excluded = {
        t.id for t in kb.treatments.values() if (r := _rule(t, "recent_isotretinoin")) and r.effect == "exclude"
    }
    assert excluded == {"laser_ablative_full", "dermabrasion"}
    for tid in ("laser_ablative_full", "dermabrasion"):
        rule = _rule(kb.treatments[tid], "recent_isotretinoin")
        assert rule is not None and {"ref-47", "ref-49"} <= set(rule.sources)


def test_herpes_prophylaxis_steps(kb: KnowledgeBase) -> None:
    for tid in RESURFACING:
        rule = _rule(kb.treatments[tid], "herpes_simplex_history")
        assert rule is not None and "ref-51" in rule.sources, tid
        steps = {s.code: s for s in rule.add_steps}
        step = steps["hsv_prophylaxis"]
        assert (step.offset, step.until, step.kind) == (-1, 13, "do"), tid
        assert step.text.startswith("Take the antiviral medicine your clinician prescribed")
    rule = _rule(kb.treatments["rf_microneedling"], "herpes_simplex_history")
    assert rule is not None and "ref-22" in rule.sources
    (step,) = rule.add_steps
    assert (step.code, step.offset, step.until, step.kind) == ("hsv_prophylaxis", -7, -1, "do")


def test_high_phototype_warnings_add_test_spot_and_priming(kb: KnowledgeBase) -> None:
    for tid in RESURFACING - HIGH_PHOTOTYPE_EXCLUDED:
        t = kb.treatments[tid]
        (rule,) = [r for r in t.phototype_cautions if r.code == "high_phototype_pih_risk"]
        codes = {s.code: s for s in rule.add_steps}
        assert codes["test_spot"].offset < codes["pigment_priming"].offset < 0, tid
        assert codes["pigment_priming"].until == -1, tid
        assert all(s.kind == "do" for s in rule.add_steps), tid
    for tid in HIGH_PHOTOTYPE_EXCLUDED:
        assert any(r.code == "high_phototype_pih_risk" for r in kb.treatments[tid].phototype_cautions), tid


def test_high_phototype_preferences(kb: KnowledgeBase) -> None:
    preferred = {t.id for t in kb.treatments.values() if t.preferred_for is not None}
    assert preferred == HIGH_PHOTOTYPE_PREFERRED | {"microneedling"}
    for tid in HIGH_PHOTOTYPE_PREFERRED:
        pref = kb.treatments[tid].preferred_for
        assert pref is not None and set(pref.phototypes) == {"IV", "V", "VI"} and pref.bonus == 1.5


def test_recent_sunburn_postpones_two_weeks(kb: KnowledgeBase) -> None:
    for tid in RESURFACING | {"rf_microneedling", "microneedling"}:
        rule = _rule(kb.treatments[tid], "recent_sunburn")
        assert rule is not None and rule.delay_days == 14, tid


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
        for r in t.rules():
            assert all(s.code for s in r.add_steps), f"{t.id}:{r.code}"
        # cicatrix-default is our own default: whatever cites it cannot claim better than U.
        cited = [*t.indications, *t.rules(), t.protocol, *t.protocol.steps]
        cited += [s for r in t.rules() for s in r.add_steps]
        for entry in cited:
            if "cicatrix-default" in entry.sources:
                assert entry.evidence_level == "U", f"{t.id}: {entry!r}"[:200]


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
