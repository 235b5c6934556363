"""`cicatrix export fhir|ics|pdf|plandefinition|outcomes` and `cicatrix import fhir`.

Only typer is imported at module level; format libraries load inside each command so
`cicatrix plan` keeps its cold start.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cicatrix.cli.io import fail
from cicatrix.cli.options import KnowledgeDir
from cicatrix.cli.stored import ActorOption, run_as

if TYPE_CHECKING:
    from cicatrix.engine.case import Case
    from cicatrix.engine.result import Plan
    from cicatrix.knowledge.models import KnowledgeBase

export_app = typer.Typer(help="Export plans and records in standard formats.", no_args_is_help=True)
import_app = typer.Typer(help="Import records from standard formats.", no_args_is_help=True)

Out = Annotated[str, typer.Option("--out", "-o", help="Output file; '-' writes to standard output.")]


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")


def _write(out: str, data: bytes | str) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if out == "-":
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
    else:
        try:
            Path(out).write_bytes(raw)
        except OSError as exc:
            fail(f"--out: cannot write {out} ({exc.strerror})")


def _plan_from_case(case_file: str, knowledge_dir: str | None) -> tuple[Case, Plan, KnowledgeBase]:
    from cicatrix.cli.io import knowledge
    from cicatrix.cli.run import read_case
    from cicatrix.engine.plan import plan_case

    kb = knowledge(knowledge_dir)
    case = read_case(case_file, kb)
    return case, plan_case(case, kb), kb


@export_app.command("ics")
def export_ics(
    case_file: Annotated[str, typer.Argument(help="CASE.json, or '-' for standard input")],
    out: Out = "-",
    tz: Annotated[str, typer.Option(help="The clinic's time zone (IANA name).")] = "Europe/London",
    at: Annotated[str, typer.Option("--time", help="Appointment time, HH:MM local.")] = "09:00",
    minutes: Annotated[int, typer.Option(help="Session length in minutes.", min=1)] = 60,
    clinic: Annotated[str, typer.Option(help="Clinic name shown in events.")] = "Your clinic",
    location: Annotated[str | None, typer.Option(help="Clinic address.")] = None,
    previous: Annotated[
        Path | None, typer.Option(help="The calendar issued last time, so moved events get a higher SEQUENCE.")
    ] = None,
    patient_id: Annotated[str | None, typer.Option(help="Patient id for UIDs (default: the case's).")] = None,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Sessions as timed events with a reminder the day before; care steps as all-day events."""
    from datetime import timedelta

    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.ics import CalendarOptions, calendar_bytes, parse_time, plain_names

    case, plan, kb = _plan_from_case(case_file, knowledge_dir)
    pid = patient_id or case.patient.id
    if not pid:
        fail("patient.id: is required for stable calendar UIDs (or pass --patient-id)")
    prev = None
    if previous is not None:
        try:
            prev = previous.read_bytes()
        except OSError as exc:
            fail(f"--previous: cannot read {previous} ({exc.strerror})")
    try:
        opts = CalendarOptions(
            tz=tz,
            appointment_time=parse_time(at, "--time"),
            duration=timedelta(minutes=minutes),
            clinic_name=clinic,
            location=location,
            names=plain_names(kb),
        )
        data = calendar_bytes(plan, str(pid), opts, previous=prev)
    except ExportError as exc:
        field = "--tz" if exc.field == "tz" else exc.field
        fail(f"{field}: {exc.message}")
    except ValueError as exc:
        fail(f"--previous: not a readable iCalendar file ({exc})")
    _write(out, data)


@export_app.command("pdf")
def export_pdf(
    case_file: Annotated[str, typer.Argument(help="CASE.json, or '-' for standard input")],
    out: Annotated[str, typer.Option("--out", "-o", help="Output PDF ('-' for standard output).")] = "handout.pdf",
    clinic: Annotated[str, typer.Option(help="Clinic name.")] = "Your clinic",
    phone: Annotated[str | None, typer.Option(help="Clinic phone number.")] = None,
    logo: Annotated[Path | None, typer.Option(help="Clinic logo (PNG, JPEG or SVG).")] = None,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """A printable handout: the plan in plain words and what to do or avoid, day by day."""
    from cicatrix.exports.pdf import HandoutOptions, render_pdf

    _case, plan, kb = _plan_from_case(case_file, knowledge_dir)
    logo_bytes = None
    if logo is not None:
        try:
            logo_bytes = logo.read_bytes()
        except OSError as exc:
            fail(f"--logo: cannot read {logo} ({exc.strerror})")
    opts = HandoutOptions(clinic_name=clinic, clinic_phone=phone, logo=logo_bytes)
    _write(out, render_pdf(plan, opts, kb))


@export_app.command("fhir")
def export_fhir(
    source: Annotated[str, typer.Argument(help="CASE.json ('-' for standard input), or a stored patient id")],
    out: Out = "-",
    knowledge_dir: KnowledgeDir = None,
    actor: Annotated[str | None, typer.Option("--actor", help="For a stored patient: the username to act as.")] = None,
) -> None:
    """A FHIR R4B Bundle: Patient, Condition, score Observations, CarePlan, sessions."""
    from cicatrix.exports.fhir import bundle_json, record_to_bundle

    if source == "-" or source.endswith(".json") or Path(source).is_file():
        from cicatrix.exports.record import AssessmentRecord, PatientRecord, PlanRecord

        case, plan, kb = _plan_from_case(source, knowledge_dir)
        pid = case.patient.id or "case"
        record = PatientRecord(
            id=pid,
            patient=case.patient,
            assessments=(AssessmentRecord(id="1", assessment=case.assessment, scores=plan.scores),),
            plan=PlanRecord(id="1", status="proposed", plan=plan, assessment_id="1"),
        )
    else:
        from cicatrix.service.records import load_record

        if not source.isdigit():
            fail(f"patient: {source!r} is neither a readable CASE.json nor a stored patient id")
        if actor is None:
            fail("--actor: is required to read a stored patient (the username to act as)")
        record = run_as(actor, load_record, int(source), "fhir", knowledge_dir=knowledge_dir)
        from cicatrix.cli.io import knowledge

        kb = knowledge(knowledge_dir)
    _write(out, bundle_json(record_to_bundle(record, kb=kb)) + "\n")


@export_app.command("plandefinition")
def export_plandefinition(
    out: Out = "-",
    treatment: Annotated[list[str] | None, typer.Option(help="Only these treatments (repeatable).")] = None,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Every treatment protocol as a FHIR PlanDefinition with its ActivityDefinitions (one Bundle)."""
    from cicatrix.cli.io import knowledge
    from cicatrix.exports.plandefinition import protocol_bundle

    kb = knowledge(knowledge_dir)
    for t in treatment or ():
        if t not in kb.treatments:
            fail(f"--treatment: unknown treatment {t!r} (known: {', '.join(sorted(kb.treatments))})")
    bundle = protocol_bundle(kb, list(treatment) if treatment else None)
    _write(out, bundle.model_dump_json(exclude_none=True, indent=2) + "\n")


@export_app.command("outcomes")
def export_outcomes(
    actor: ActorOption,
    fmt: Annotated[str, typer.Option("--format", help="Output format (csv).")] = "csv",
    out: Out = "-",
    seed: Annotated[
        str | None, typer.Option(help="Secret for the per-patient date shifts (default: random per export).")
    ] = None,
) -> None:
    """De-identified outcomes, one row per assessment: scores, treatments, phototype; dates shifted."""
    if fmt != "csv":
        fail(f"--format: unknown format {fmt!r} (known: csv)")
    from cicatrix.exports.outcomes import outcomes_csv
    from cicatrix.service.records import outcomes_rows

    _write(out, outcomes_csv(run_as(actor, outcomes_rows, seed.encode() if seed else None)))


@import_app.command("fhir")
def import_fhir(
    file: Annotated[str, typer.Argument(help="A FHIR Patient or Bundle JSON file, or '-' for standard input")],
    actor: ActorOption,
    override: Annotated[
        list[str] | None,
        typer.Option(
            "--override",
            metavar="TREATMENT=REASON",
            help="Schedule a treatment that screening excludes for this patient, with your reason (repeatable).",
        ),
    ] = None,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Create a patient (and, from a cicatrix Bundle, their record) from FHIR, in the actor's clinic.

    An imported plan is stored as a proposal for a clinician to approve, screened again against
    the imported patient; a treatment it schedules that screening excludes needs --override."""
    from cicatrix.cli.io import parse_json, read_text
    from cicatrix.exports.errors import ExportError
    from cicatrix.exports.fhir import record_from_fhir
    from cicatrix.service import imports
    from cicatrix.storage.settings import Settings, SettingsError

    overrides = _overrides(override or [])
    label, text = read_text(file)
    skipped: dict[str, int] = {}
    try:
        max_entries = Settings.from_env().fhir_max_entries
        record = record_from_fhir(parse_json(label, text), max_entries=max_entries, skipped=skipped)
    except (ExportError, SettingsError) as exc:
        fail(str(exc))
    patient_id = run_as(actor, imports.import_record, record, overrides, knowledge_dir=knowledge_dir)
    typer.echo(f"imported patient {patient_id}")
    if skipped:  # another system's resources that cicatrix does not use: said, never fatal
        listed = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()))
        typer.echo(f"skipped (not used by cicatrix): {listed}")


def _overrides(given: list[str]) -> list[Any]:
    """`--override TREATMENT=REASON` values as the service's overrides; exit 2 naming a bad one."""
    from pydantic import ValidationError

    from cicatrix.service.schemas import OverrideIn

    out = []
    for raw in given:
        treatment, sep, reason = raw.partition("=")
        if not sep or not treatment.strip() or not reason.strip():
            fail(f"--override: expected TREATMENT=REASON, got {raw!r}")
        try:
            out.append(OverrideIn(treatment=treatment, reason=reason))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            fail(f"--override: {err['loc'][0]} {err['msg'].lower()} (in {raw!r})")
    return out
