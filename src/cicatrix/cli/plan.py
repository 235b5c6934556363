"""`cicatrix plan`, `plan-batch`, `score`, `knowledge` and `demo`: the engine's command-line contract."""

from __future__ import annotations

import sys
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
        typer.Option(
            "--kind", help="treatments, scar_types, marks, lesions, conditions, vocabulary, education, sources"
        ),
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


class MatrixFormat(StrEnum):
    text = "text"
    csv = "csv"
    markdown = "markdown"


@knowledge_app.command("matrix")
def knowledge_matrix(
    format: Annotated[
        MatrixFormat,
        typer.Option(
            "--format", "-f", help="text: a grid for the terminal; csv: one row per cell; markdown: the review page."
        ),
    ] = MatrixFormat.text,
    knowledge_dir: KnowledgeDir = None,
) -> None:
    """Print the safety matrix: one decision for every condition x treatment.

    Each cell is a decision letter and its evidence level: X exclude (never planned), D delay
    (booked on or after a date derived from the case), W warn (+ when it adds care steps),
    - none (no known interaction). The csv format adds the message, sources, the group or
    treatment entry that declared the cell and the file it came from.

    Examples:

      cicatrix knowledge matrix

      cicatrix knowledge matrix --format csv > matrix.csv

      cicatrix knowledge matrix --format markdown > docs/safety-matrix.md   # regenerate the review page

      CICATRIX_KNOWLEDGE_DIR=my-clinic cicatrix knowledge matrix   # with a clinic's overrides
    """
    from cicatrix.cli.matrix import matrix_csv, matrix_markdown, print_matrix

    kb = knowledge(knowledge_dir)
    if format is MatrixFormat.text:
        print_matrix(kb)
    else:
        sys.stdout.write(matrix_csv(kb) if format is MatrixFormat.csv else matrix_markdown(kb))


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
