"""`cicatrix plan`, `plan-batch`, `score`, `knowledge` and `demo`: the engine's command-line contract."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cicatrix.cli.io import fail, knowledge
from cicatrix.cli.options import KnowledgeDir
from cicatrix.cli.run import run_plan, run_plan_batch, run_score


class Format(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


CaseFile = Annotated[str, typer.Argument(metavar="CASE.json", help="A case file, or - to read standard input.")]


def plan(
    case_file: CaseFile,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="text for people, json for tools, markdown for notes.")
    ] = Format.text,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Score a case, screen every treatment, and propose a ranked plan with a dated course.

    Example: cicatrix plan src/cicatrix/examples/moderate_mixed_phototype_iv.json --format json

    The plan is a proposal: a clinician reviews and approves every plan.
    """
    run_plan(case_file, format.value, knowledge_dir)


def plan_batch(
    in_file: Annotated[str, typer.Argument(metavar="IN.jsonl", help="One case per line, or - for standard input.")],
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Plan many cases: one JSON plan per input line on standard output, in input order.

    A bad line gives {"line": N, "error": {...}} in its place, the reason on standard error,
    and exit code 2 once every line is done.
    """
    run_plan_batch(in_file, knowledge_dir)


def score(
    case_file: CaseFile,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Compute Goodman & Baron (quantitative and qualitative), ECCA and severity for a case."""
    run_score(case_file, format.value, knowledge_dir)


knowledge_app = typer.Typer(
    help="Browse the knowledge base in force (bundled data plus any clinic overrides).",
    no_args_is_help=True,
)


@knowledge_app.command("list")
def knowledge_list(
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="treatments, scar_types, marks, lesions, conditions, education, sources"),
    ] = None,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """List every entry with its evidence level; overridden entries are marked."""
    from cicatrix.cli.render import print_knowledge_list

    kb = knowledge(knowledge_dir)
    print_knowledge_list(kb, kind)


@knowledge_app.command("show")
def knowledge_show(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="e.g. microneedling, rolling, pregnancy, ref-22")],
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Show one entry in full, with its sources spelled out."""
    from cicatrix.cli.render import print_knowledge_entry

    kb = knowledge(knowledge_dir)
    if not print_knowledge_entry(kb, entry_id):
        fail(f"ID: no knowledge entry {entry_id!r} (see `cicatrix knowledge list`)")


def demo(knowledge_dir: KnowledgeDir = None) -> None:
    """Plan every bundled example case and print the plans: a tour of what cicatrix does."""
    from cicatrix.cli.render import print_plan
    from cicatrix.engine.case import parse_case
    from cicatrix.engine.plan import plan_case
    from cicatrix.examples import example_cases

    kb = knowledge(knowledge_dir)
    for name, data in example_cases():
        print_plan(plan_case(parse_case(data, kb), kb), kb, title=name)


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command("plan-batch")(plan_batch)
    app.command()(score)
    app.add_typer(knowledge_app, name="knowledge")
    app.command()(demo)
