"""Generated patients for the property tests: one generator, tuned by each test.

The safety invariant (engine and service) and the timeline's coherence are proven over the same
kind of case: a patient with facts that contraindicate procedures, an assessment with scars, marks
and active lesions, and preferences. The generators may use the knowledge base for its
vocabularies; only the oracle that judges (tests/safety_oracle.py) must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from cicatrix.knowledge.loader import load_knowledge

_KB = load_knowledge(None)
SCARS = sorted(_KB.scar_types)
MARKS = sorted(_KB.marks)
LESIONS = sorted(_KB.lesions)
TREATMENTS = sorted(_KB.treatments)
PHOTOTYPES = ["I", "II", "III", "IV", "V", "VI"]


def counted(types: Sequence[str], most: int = 30) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Up to four findings of the given types, each with a count."""
    entry = st.sampled_from(list(types)).flatmap(
        lambda t: st.fixed_dictionaries({"type": st.just(t), "count": st.integers(0, most)})
    )
    return st.lists(entry, max_size=4)


def scar(t: str, *, with_age: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """One scar finding with the optional detail the assessment form records."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "depth": st.sampled_from(["shallow", "deep"]),
        "area_cm2": st.floats(0, 40, allow_nan=False),
    }
    if with_age:
        optional["age_months"] = st.integers(0, 120)
    return st.fixed_dictionaries({"type": st.just(t), "count": st.integers(0, 40)}, optional=optional)


def cases(
    days: st.SearchStrategy[date],
    *,
    history: Sequence[str],
    medications: Sequence[str],
    max_facts: int = 3,
    isotretinoin_after: int = 0,
    start_span: tuple[int, int] = (-30, 120),
    max_treatments: int = 4,
    scar_detail: bool = True,
    scar_age: bool = False,
    max_scars: int = 4,
    most_active: int = 30,
    downtime: bool = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """Engine cases assessed on one of `days`.

    - history / medications: the terms to pick from, codes or synonyms as a clinician types them;
    - isotretinoin_after: how many days after the assessment a last dose may be (a course still
      running is recorded with its planned last dose);
    - start_span: the preferred start, in days relative to the assessment;
    - most_active: the largest count of each active lesion (small counts keep procedures from all
      being held back for active acne);
    - scar_detail: scars with depth and area (else type and count only).
    """

    def one(day: date) -> st.SearchStrategy[dict[str, Any]]:
        scars = (
            st.lists(st.sampled_from(SCARS).flatmap(lambda t: scar(t, with_age=scar_age)), max_size=max_scars)
            if scar_detail
            else counted(SCARS, 40)
        )
        preferences: dict[str, st.SearchStrategy[Any]] = {
            "start": st.dates(day + timedelta(days=start_span[0]), day + timedelta(days=start_span[1])).map(
                date.isoformat
            ),
            "treatments": st.lists(st.sampled_from(TREATMENTS), max_size=max_treatments, unique=True),
        }
        if downtime:
            preferences["max_downtime_days"] = st.integers(0, 30)
        return st.fixed_dictionaries(
            {
                "patient": st.fixed_dictionaries(
                    {"phototype": st.sampled_from(PHOTOTYPES)},
                    optional={
                        "pregnant": st.booleans(),
                        "breastfeeding": st.booleans(),
                        "recent_sunburn": st.booleans(),
                        "isotretinoin_last_dose": st.dates(
                            day - timedelta(days=400), day + timedelta(days=isotretinoin_after)
                        ).map(date.isoformat),
                        "history": st.lists(st.sampled_from(list(history)), max_size=max_facts, unique=True),
                        "medications": st.lists(st.sampled_from(list(medications)), max_size=max_facts, unique=True),
                    },
                ),
                "assessment": st.fixed_dictionaries(
                    {
                        "date": st.just(day.isoformat()),
                        "scars": scars,
                        "marks": counted(MARKS),
                        "active_lesions": counted(LESIONS, most=most_active),
                    },
                    optional={"goodman_baron_qualitative": st.integers(1, 4)},
                ),
                "preferences": st.fixed_dictionaries({}, optional=preferences),
            }
        )

    return days.flatmap(one)
