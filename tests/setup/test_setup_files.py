"""The checkout's set-up promises (issue 14 §7): what a newcomer's `make run` relies on."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_data_directory_is_never_committed() -> None:
    # the database and secret.key live there; a `git add -A` must not pick them up
    probe = "cicatrix-data/secret.key"
    r = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT, check=False)
    assert r.returncode == 0, f"{probe} is not ignored by .gitignore"


def test_license_is_an_spdx_expression_with_its_file() -> None:
    # a TOML table under project.license is deprecated by setuptools (a warning on every install)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]


def test_the_run_path_installs_the_pdf_libraries() -> None:
    run = (ROOT / "scripts" / "run.sh").read_text()
    assert "scripts/system-deps.sh run" in run
    deps = (ROOT / "scripts" / "system-deps.sh").read_text()
    assert "libpango" in deps and "fonts-dejavu" in deps


def test_readme_states_the_python_version_and_what_make_run_installs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11 or later" in readme
    assert "make run" in readme and "WeasyPrint" in readme and "cicatrix-data/" in readme
