"""Entry point for the `cicatrix` command.

Only typer is imported here; every command imports what it needs when it runs, so
`cicatrix plan` starts quickly.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="cicatrix",
    help=(
        "Acne-scar care planning: validated scores, safety-screened treatment plans, dated courses "
        "and day-by-day aftercare. cicatrix supports clinical judgement; a clinician approves every plan."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

# --- command registrations ---
from cicatrix.cli import plan as _plan  # noqa: E402

_plan.register(app)
from cicatrix.cli import db as _db  # noqa: E402
from cicatrix.cli import serve as _serve  # noqa: E402
from cicatrix.cli import user as _user  # noqa: E402

_db.register(app)
_serve.register(app)
_user.register(app)
from cicatrix.cli import export as _export  # noqa: E402

_export.register(app)
from cicatrix.cli import worker as _worker  # noqa: E402

_worker.register(app)
# --- end of command registrations ---


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
