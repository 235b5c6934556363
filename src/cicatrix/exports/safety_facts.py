"""The patient's safety facts as FHIR resources, and back.

Screening reads a handful of facts about the patient (engine.case.Patient): pregnancy,
breastfeeding, a recent sunburn, the phototype, medicines (an anticoagulant, isotretinoin and
when its last dose is), and a history (keloid tendency, cold sores, a bleeding disorder...).
Another system reads them only as resources of their own, never as a JSON string in an
extension:

- pregnancy, breastfeeding and a recent sunburn: an Observation each (valueBoolean true), only
  when present (cicatrix records "not known to be", which is not "confirmed not");
- the phototype: an Observation with the Fitzpatrick type as a coded value;
- each medicine: a MedicationStatement; isotretinoin carries its last dose as the end of
  `effectivePeriod`;
- each history term: a Condition (problem-list item).

Each resource is coded in a cicatrix CodeSystem (no source gives a standard code for these
concepts: docs/exports.md); history and medication terms are coded by their vocabulary code
(`anticoagulant`) with the words the clinician recorded (`warfarin`) as the concept's text, which
is what an import reads back. The same codes are what the PlanDefinition's applicability
conditions look for (`trigger_expression`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.resource import Resource

from cicatrix.engine.case import Patient
from cicatrix.engine.terms import read_term
from cicatrix.exports.errors import ExportError
from cicatrix.exports.ids import CODE_SYSTEM
from cicatrix.knowledge.models import Condition as KbCondition
from cicatrix.knowledge.models import KnowledgeBase, Trigger

SAFETY_FACTS = f"{CODE_SYSTEM}/safety-facts"
HISTORY = f"{CODE_SYSTEM}/history"
MEDICATIONS = f"{CODE_SYSTEM}/medications"
PHOTOTYPE = f"{CODE_SYSTEM}/fitzpatrick-phototype"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

FLAGS = ("pregnant", "breastfeeding", "recent_sunburn")
PHOTOTYPE_FACT = "fitzpatrick-phototype"
ISOTRETINOIN = "isotretinoin"  # vocabulary.yaml: recorded as `isotretinoin_last_dose`
_FLAG_CATEGORY = {"pregnant": "social-history", "breastfeeding": "social-history", "recent_sunburn": "exam"}
# statuses that say the fact does not hold (any other status counts: screening errs on the safe side)
_NOT_TAKEN = {"not-taken", "entered-in-error", "stopped", "completed"}
_REFUTED = {"refuted", "entered-in-error"}
_OBS_VOID = {"cancelled", "entered-in-error", "registered", "preliminary"}

# the canonical URIs of the standard terminologies codes.yaml names
STANDARD_URIS = {"snomed": "http://snomed.info/sct", "icd10": "http://hl7.org/fhir/sid/icd-10", "cpt": "http://www.ama-assn.org/go/cpt"}

Url = Callable[..., str]  # the fullUrl of a fact's resource, from stable parts


def _cc(system: str, code: str, display: str | None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": text or display or code}


def flag_label(kb: KnowledgeBase, flag: str) -> str:
    """A flag in words: the name of the safety condition it triggers (conditions.yaml)."""
    return next((c.name for c in kb.conditions.values() if flag in c.triggers.flags), flag)


def _term_label(kb: KnowledgeBase, code: str) -> str | None:
    term = kb.vocabulary.get(code)
    # "Isotretinoin (record the date of the last dose)": the words before the clinician's hint
    return term.label.split(" (")[0] if term else None


def _term_coding(kb: KnowledgeBase, kind: str, system: str, term: str) -> dict[str, Any]:
    """A recorded term as a concept: its vocabulary code, and the words as recorded."""
    code, _why = read_term("history" if kind == "history" else "medication", term, kb)
    return _cc(system, code or term, _term_label(kb, code) if code else None, term)


def fact_resources(p: Patient, kb: KnowledgeBase, on: date, url: Url, subject: str) -> list[tuple[str, Resource]]:
    """The patient's safety facts as resources, each with its fullUrl; `on` is the export's day
    (an isotretinoin course ending later is still active)."""
    ref = {"reference": subject}
    out: list[tuple[str, Resource]] = []
    full = url("Observation", PHOTOTYPE_FACT)
    out.append(
        (
            full,
            Observation(
                id=full.removeprefix("urn:uuid:"),
                status="final",
                category=[_cc(OBS_CATEGORY, "exam", "Exam")],
                code=_cc(SAFETY_FACTS, PHOTOTYPE_FACT, "Fitzpatrick skin phototype"),
                subject=ref,
                valueCodeableConcept=_cc(PHOTOTYPE, p.phototype.value, f"Type {p.phototype.value}"),
            ),
        )
    )
    for flag in FLAGS:
        if not getattr(p, flag):
            continue
        full = url("Observation", flag)
        category = _FLAG_CATEGORY[flag]
        out.append(
            (
                full,
                Observation(
                    id=full.removeprefix("urn:uuid:"),
                    status="final",
                    category=[_cc(OBS_CATEGORY, category, category.replace("-", " ").capitalize())],
                    code=_cc(SAFETY_FACTS, flag, flag_label(kb, flag)),
                    subject=ref,
                    valueBoolean=True,
                ),
            )
        )
    for term in p.medications:
        full = url("MedicationStatement", term)
        out.append(
            (
                full,
                MedicationStatement(
                    id=full.removeprefix("urn:uuid:"),
                    status="active",
                    medicationCodeableConcept=_term_coding(kb, "medication", MEDICATIONS, term),
                    subject=ref,
                ),
            )
        )
    if p.isotretinoin_last_dose is not None:
        full = url("MedicationStatement", ISOTRETINOIN)
        out.append(
            (
                full,
                MedicationStatement(
                    id=full.removeprefix("urn:uuid:"),
                    status="active" if p.isotretinoin_last_dose >= on else "completed",
                    medicationCodeableConcept=_cc(MEDICATIONS, ISOTRETINOIN, _term_label(kb, ISOTRETINOIN)),
                    subject=ref,
                    effectivePeriod={"end": p.isotretinoin_last_dose},
                ),
            )
        )
    for term in p.history:
        full = url("Condition", "history", term)
        out.append(
            (
                full,
                Condition(
                    id=full.removeprefix("urn:uuid:"),
                    clinicalStatus=_cc(CONDITION_CLINICAL, "active", "Active"),
                    category=[_cc(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
                    code=_term_coding(kb, "history", HISTORY, term),
                    subject=ref,
                ),
            )
        )
    return out


# --- import ------------------------------------------------------------------------------


def _our_code(concept: Any, system: str) -> str | None:
    for c in (concept.coding if concept else None) or ():
        if c.system == system and c.code:
            return str(c.code)
    return None


def _term(concept: Any, system: str) -> str | None:
    """The term as recorded: the concept's text when it has our code, else the code."""
    code = _our_code(concept, system)
    if code is None:
        return None
    return str(concept.text).strip() if concept.text and concept.text.strip() else code


class Facts:
    """What an import read from the facts' resources; `found` says whether any was there."""

    def __init__(self) -> None:
        self.found = False
        self.phototype: str | None = None
        self.flags: dict[str, bool] = {}
        self.history: list[str] = []
        self.medications: list[str] = []
        self.isotretinoin_last_dose: date | None = None

    def read_observation(self, obs: Observation, where: str) -> bool:
        """Reads an Observation of ours; False when it is not one (the caller skips it)."""
        code = _our_code(obs.code, SAFETY_FACTS)
        if code is None:
            return False
        self.found = True
        if obs.status in _OBS_VOID:
            return True
        if code == PHOTOTYPE_FACT:
            value = _our_code(obs.valueCodeableConcept, PHOTOTYPE)
            if value not in ("I", "II", "III", "IV", "V", "VI"):
                raise ExportError(f"{where}.valueCodeableConcept", f"phototype must be one of I-VI in {PHOTOTYPE}")
            if self.phototype not in (None, value):
                raise ExportError(where, f"says phototype {value}, another Observation says {self.phototype}")
            self.phototype = value
        elif code in FLAGS:
            if obs.valueBoolean is None:
                raise ExportError(f"{where}.valueBoolean", f"a {code} Observation needs valueBoolean")
            self.flags[code] = self.flags.get(code, False) or bool(obs.valueBoolean)
        else:
            raise ExportError(f"{where}.code", f"unknown code {code!r} of {SAFETY_FACTS}")
        return True

    def read_medication(self, ms: MedicationStatement, where: str) -> bool:
        concept = ms.medicationCodeableConcept
        code = _our_code(concept, MEDICATIONS)
        if code is None:
            return False
        self.found = True
        if ms.status in _NOT_TAKEN and code != ISOTRETINOIN:
            return True
        if code == ISOTRETINOIN:
            if ms.status in ("not-taken", "entered-in-error"):
                return True
            period = ms.effectivePeriod
            last = (period.end if period else None) or ms.effectiveDateTime
            if last is None:
                raise ExportError(f"{where}.effectivePeriod.end", "isotretinoin needs the date of its last dose")
            day = last if type(last) is date else date.fromisoformat(str(last)[:10])
            if self.isotretinoin_last_dose is None or day > self.isotretinoin_last_dose:
                self.isotretinoin_last_dose = day
            return True
        term = _term(concept, MEDICATIONS)
        if term and term not in self.medications:
            self.medications.append(term)
        return True

    def read_condition(self, cond: Condition) -> bool:
        code = _our_code(cond.code, HISTORY)
        if code is None:
            return False
        self.found = True
        if _our_code(cond.verificationStatus, CONDITION_VERIFICATION) in _REFUTED:
            return True
        term = _term(cond.code, HISTORY)
        if term and term not in self.history:
            self.history.append(term)
        return True

    def merge_into(self, screening: dict[str, Any]) -> dict[str, Any]:
        """The facts added to those an older export carried in its screening extension."""
        out = dict(screening)
        for flag, value in self.flags.items():
            out[flag] = bool(out.get(flag)) or value
        for key, terms in (("history", self.history), ("medications", self.medications)):
            known = list(out.get(key) or [])
            out[key] = known + [t for t in terms if t not in known]
        if self.isotretinoin_last_dose is not None:
            out["isotretinoin_last_dose"] = self.isotretinoin_last_dose.isoformat()
        return out


# --- FHIRPath over the resources above ---------------------------------------------------


def _q(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _resources(kind: str, where: str) -> str:
    return f"%context.entry.resource.where(resourceType = {_q(kind)} and {where}).exists()"


def _coded(element: str, system: str, codes: Iterable[str]) -> str:
    listed = " | ".join(_q(c) for c in codes)
    return f"{element}.coding.where(system = {_q(system)} and code in ({listed})).exists()"


def condition_expression(condition: KbCondition, kb: KnowledgeBase) -> str:
    """A FHIRPath expression, over the patient's record Bundle as `%context`, that is true when
    the safety condition's trigger fires on the facts this module writes (and on the findings
    of the latest assessment that `fhir.finding_conditions` writes).

    The expressions test presence; what each fact's resource means is as `fact_resources`
    writes it (and as an import reads it): a medicine not stopped, a history not refuted.
    Findings of the assessment (active acne, keloid scars present) are matched by their
    standard codes (codes.yaml) on any Condition, which is how another system records them; a
    code wider than the finding (ICD-10 L91.0 also holds hypertrophic scars) errs on the side
    of not applying the protocol unreviewed."""
    trigger = condition.triggers
    parts = _trigger_parts(trigger)
    # cicatrix's own records name the finding in its own systems (fhir.finding_conditions)
    if trigger.active_lesions_any:
        parts.append(_resources("Condition", _coded("code", f"{CODE_SYSTEM}/safety-conditions", [condition.id])))
    if trigger.scars_any:
        parts.append(_resources("Condition", _coded("code", f"{CODE_SYSTEM}/scar-types", trigger.scars_any)))
    standard: list[tuple[str, str]] = []
    for of, concept in (
        *(("condition", condition.id) for _ in trigger.active_lesions_any[:1]),
        *(("scar_type", s) for s in trigger.scars_any),
    ):
        m = kb.standard_codes(of, concept)
        for c in m.codings if m else ():
            if c.site is None and (STANDARD_URIS[c.system], c.code) not in standard:
                standard.append((STANDARD_URIS[c.system], c.code))
    for system in dict.fromkeys(sys for sys, _code in standard):
        codes = [code for sys, code in standard if sys == system]
        parts.append(_resources("Condition", _coded("code", system, codes)))
    return " or ".join(f"({p})" for p in parts)


def _trigger_parts(trigger: Trigger) -> list[str]:
    parts: list[str] = []
    for flag in trigger.flags:
        parts.append(
            _resources("Observation", f"{_coded('code', SAFETY_FACTS, [flag])} and value = true")
        )
    if trigger.phototypes:
        value = _coded("value", PHOTOTYPE, trigger.phototypes)
        parts.append(_resources("Observation", f"{_coded('code', SAFETY_FACTS, [PHOTOTYPE_FACT])} and {value}"))
    if trigger.history_any:
        not_refuted = (
            f"verificationStatus.coding.where(code in ({' | '.join(_q(s) for s in sorted(_REFUTED))})).exists().not()"
        )
        parts.append(_resources("Condition", f"{_coded('code', HISTORY, trigger.history_any)} and {not_refuted}"))
    if trigger.medications_any:
        stopped = " | ".join(_q(s) for s in sorted(_NOT_TAKEN))
        parts.append(
            _resources(
                "MedicationStatement",
                f"{_coded('medication', MEDICATIONS, trigger.medications_any)} and (status in ({stopped})).not()",
            )
        )
    if trigger.isotretinoin_within_months:
        months = trigger.isotretinoin_within_months
        parts.append(
            _resources(
                "MedicationStatement",
                f"{_coded('medication', MEDICATIONS, [ISOTRETINOIN])} and "
                f"(effective.end + {months} months) > today()",
            )
        )
    return parts
