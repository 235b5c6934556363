"""Render docs/sample-handout.pdf from a bundled example case, so people can see the handout.

Usage: .venv/bin/python scripts/render_sample_handout.py [EXAMPLE_NAME] [OUT.pdf]
"""

from __future__ import annotations

import sys
from pathlib import Path

from cicatrix.engine import parse_case, plan_case
from cicatrix.examples import example_cases
from cicatrix.exports.pdf import HandoutOptions, render_pdf
from cicatrix.knowledge.loader import load_knowledge


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "moderate_mixed_phototype_iv"
    out = Path(
        sys.argv[2] if len(sys.argv) > 2 else Path(__file__).resolve().parents[1] / "docs" / "sample-handout.pdf"
    )
    kb = load_knowledge(None)
    case = parse_case(dict(example_cases())[name], kb)
    plan = plan_case(case, kb)
    opts = HandoutOptions(clinic_name="Harbour Skin Clinic (sample)", clinic_phone="020 7946 0000")
    out.write_bytes(render_pdf(plan, opts, kb))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
