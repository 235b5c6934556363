"""The engine commands' work, free of Typer so the fast path can call it directly."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from cicatrix.cli.io import EXIT_BAD_INPUT, fail, knowledge, parse_json, read_text
from cicatrix.knowledge.frozen import to_json

if TYPE_CHECKING:
    from cicatrix.engine.case import Case
    from cicatrix.knowledge.models import KnowledgeBase


def read_case(path: str, kb: KnowledgeBase) -> Case:
    from cicatrix.engine.case import CaseError, parse_case

    label, text = read_text(path)
    try:
        return parse_case(parse_json(label, text), kb)
    except CaseError as exc:
        fail(exc.one_line())


def run_plan(case_file: str, fmt: str, knowledge_dir: str | None) -> None:
    from cicatrix.engine.plan import plan_case

    kb = knowledge(knowledge_dir)
    result = plan_case(read_case(case_file, kb), kb)
    if fmt == "json":
        sys.stdout.buffer.write(to_json(result, indent=2) + b"\n")
    elif fmt == "markdown":
        from cicatrix.cli.render import plan_markdown

        sys.stdout.write(plan_markdown(result, kb))
    else:
        from cicatrix.cli.render import print_plan

        print_plan(result, kb)


def run_score(case_file: str, fmt: str, knowledge_dir: str | None) -> None:
    from cicatrix.engine.scores import score_assessment

    kb = knowledge(knowledge_dir)
    result = score_assessment(read_case(case_file, kb).assessment, kb)
    if fmt == "json":
        sys.stdout.buffer.write(to_json(result, indent=2) + b"\n")
    else:
        from cicatrix.cli.render import print_scores

        print_scores(result, markdown=fmt == "markdown")


def run_plan_batch(in_file: str, knowledge_dir: str | None) -> None:
    from cicatrix.engine.case import CaseError, parse_case
    from cicatrix.engine.plan import plan_case

    kb = knowledge(knowledge_dir)
    label, text = read_text(in_file)
    lines = text.splitlines()
    out = sys.stdout.buffer
    bad = 0
    progress = None
    if sys.stderr.isatty() and len(lines) > 200:
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)
        progress.start()
        task = progress.add_task("planning", total=len(lines))
    for n, line in enumerate(lines, start=1):
        if progress is not None:
            progress.advance(task)
        if not line.strip():
            continue
        try:
            result = plan_case(parse_case(json.loads(line), kb), kb)
            out.write(to_json(result) + b"\n")
        except json.JSONDecodeError as exc:
            bad += 1
            err = {"field": "line", "value": None, "message": f"not valid JSON: {exc.msg}"}
            out.write(json.dumps({"line": n, "error": err}).encode() + b"\n")
            out.flush()
            sys.stderr.write(f"error: {label} line {n}: not valid JSON: {exc.msg}\n")
        except CaseError as exc:
            bad += 1
            out.write(json.dumps({"line": n, "error": exc.as_dict()}, default=str).encode() + b"\n")
            sys.stderr.write(f"error: {label} line {n}: {exc.one_line()}\n")
    if progress is not None:
        progress.stop()
    if bad:
        raise SystemExit(EXIT_BAD_INPUT)
