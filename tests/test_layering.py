"""The package's layering (docs/architecture.md) holds, and its check catches an upward import.

The contracts live in pyproject.toml ([tool.importlinter]) and run in ``make lint``; here they run on
the real package, then on a copy into which an upward import has been planted, which must fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT.exists(), reason="import-linter is not installed (make lint installs it)"
)


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [str(LINT), "--config", str(where / "pyproject.toml"), "--no-cache"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold() -> None:
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("types.py", "from evalkit.cli import main", "each layer imports only the layers below it"),
        ("analysis/gate.py", "import evalkit.run.runner", "each layer imports only the layers below it"),
        ("report/html.py", "import litellm", "LiteLLM and the providers' SDKs only inside evalkit.providers"),
        (
            "run/recorder.py",
            "from evalkit.testing.server import TestServer",
            "The product never imports the test server",
        ),
    ],
)
def test_an_upward_import_breaks_the_check(tmp_path: Path, module: str, planted: str, contract: str) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "evalkit", copy / "evalkit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "evalkit" / module
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n{planted}  # planted by the test\n", encoding="utf-8"
    )
    out = _lint(copy)
    assert out.returncode != 0, out.stdout
    assert contract in out.stdout and "BROKEN" in out.stdout
