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
    from cicatrix.storage.settings import SettingsError

    try:
        app()
    except SettingsError as exc:  # a bad CICATRIX_* variable: one line, exit 2, no traceback
        from cicatrix.cli.io import fail

        fail(str(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
