"""A typer-free path for the engine's hot commands, so a cold `cicatrix plan` starts quickly.

Only `plan`, `plan-batch` and `score` with plain arguments take this path; anything else,
including `--help` and any argument this parser does not know, goes to the full Typer app,
which owns the help text and the error messages.
"""

from __future__ import annotations

import argparse

FAST_COMMANDS = ("plan", "plan-batch", "score")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cicatrix", add_help=False, exit_on_error=False)
    p.add_argument("command", choices=FAST_COMMANDS)
    p.add_argument("case_file")
    p.add_argument("--format", "-f", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--knowledge-dir", default=None)
    return p


def try_fast(argv: list[str]) -> bool:
    """Run the command and return True, or return False to let Typer handle it."""
    if not argv or argv[0] not in FAST_COMMANDS or any(a in ("--help", "-h") for a in argv):
        return False
    try:
        args, extra = _parser().parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return False
    if extra or (args.command == "plan-batch" and args.format != "text"):
        return False
    from cicatrix.cli.run import run_plan, run_plan_batch, run_score

    if args.command == "plan-batch":
        run_plan_batch(args.case_file, args.knowledge_dir)
    elif args.command == "plan":
        run_plan(args.case_file, args.format, args.knowledge_dir)
    else:
        run_score(args.case_file, args.format, args.knowledge_dir)
    return True
