"""Shared fixtures: an isolated cache and results folder per test, and a suite-folder factory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's cache or results, or sees real API keys."""
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EVALKIT_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("EVALKIT_PRICES", "none")  # never the user's ~/.config/evalkit/prices.yaml
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "TOGETHERAI_API_KEY",
        "TOGETHER_API_KEY",
        "GROQ_API_KEY",
        "FIREWORKS_AI_API_KEY",
        "OPENROUTER_API_KEY",
        "GITHUB_STEP_SUMMARY",
    ):
        monkeypatch.delenv(var, raising=False)


SuiteFactory = Callable[..., Path]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def make_suite(tmp_path: Path) -> SuiteFactory:
    """Write a suite folder (suite.yaml + data.jsonl) and return the suite path.

    ``rows`` defaults to 5 tiny classification rows; keyword arguments override suite keys.
    """

    def factory(rows: list[dict[str, Any]] | None = None, *, name: str = "demo", **overrides: Any) -> Path:
        folder = tmp_path / "suite"
        folder.mkdir(exist_ok=True)
        if rows is None:
            rows = [
                {"id": f"s{i}", "input": f"question {i}", "expected": "yes" if i % 2 else "no"}
                for i in range(5)
            ]
        write_jsonl(folder / "data.jsonl", rows)
        suite: dict[str, Any] = {
            "name": name,
            "version": 1,
            "dataset": {"path": "data.jsonl"},
            "prompt": {"system": "Answer yes or no.", "user": "{{ input }}"},
            "models": [{"name": "m-closed", "model": "openai/gpt-4o-mini", "group": "closed"}],
            "scorers": ["exact_match"],
        }
        suite.update(overrides)
        path = folder / "suite.yaml"
        path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
        return path

    return factory


@pytest.fixture
def results_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "results"
