"""Options shared by several commands, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

KnowledgeDir = Annotated[
    str | None,
    typer.Option(
        "--knowledge-dir",
        envvar="CICATRIX_KNOWLEDGE_DIR",
        help="A clinic's overrides directory, laid out like the bundled data (see docs/knowledge.md).",
    ),
]
