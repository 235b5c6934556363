"""The `cicatrix` console script: the fast path for hot engine commands, Typer for the rest."""

from __future__ import annotations

import os
import sys


def main() -> None:
    # cicatrix uses no pydantic plugins; skipping their entry-point scan saves ~15 ms per start
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from cicatrix.cli.fast import try_fast

    if try_fast(sys.argv[1:]):
        return
    from cicatrix.cli.main import app

    app()


if __name__ == "__main__":  # pragma: no cover
    main()
