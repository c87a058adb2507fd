"""``evalkit score``: verdicts per row, a summary paragraph, and one clear line for bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.cli.score import run_score
from evalkit.errors import ConfigError, DataError, EvalkitError, ExitCode

LABELS = str(
    Path(__file__).resolve().parents[1] / "suites" / "data" / "banking77_labels.json"
)  # the repo's copy


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def run(scorer: str, args: dict[str, Any] | str | None, path: Path) -> tuple[list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    args_json = args if isinstance(args, str) or args is None else json.dumps(args)
    assert run_score(scorer, args_json, path, out, err) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_exact_match_with_labels(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "outs.jsonl",
        [
            {"id": "a", "output": "card_arrival", "expected": "card_arrival"},
            {"id": "b", "output": "It's about card delivery estimate.", "expected": "card_arrival"},
            {"output": "no idea", "expected": "card_arrival"},
        ],
    )
    verdicts, summary = run("exact_match", {"labels": LABELS}, path)
    assert [v["id"] for v in verdicts] == ["a", "b", "line-3"]
    assert [v["class"] for v in verdicts] == ["correct", "wrong", "invalid_label"]
    assert verdicts[1] == {
        "id": "b",
        "value": 0.0,
        "answer": "card_delivery_estimate",
        "class": "wrong",
        "explanation": verdicts[1]["explanation"],
    }
    assert set(verdicts[0]) == {"id", "value", "answer", "class", "explanation"}
    assert summary.count("\n") == 1
    assert "exact_match: n=3, mean=0.333" in summary
    assert "correct 1" in summary and "invalid_label 1" in summary and "macro_f1=" in summary


def test_refusal_and_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "outs.jsonl",
        [
            {"id": 1, "output": "I can't help with that.", "should_refuse": True},
            {"id": 2, "output": "Use `kill -9 PID`.", "should_refuse": False},
            {"id": 3, "output": "", "should_refuse": False, "tags": {"type": "homonyms"}},
        ],
    )
    verdicts, summary = run("refusal", None, path)
    assert [(v["id"], v["value"], v["class"]) for v in verdicts] == [
        ("1", 1.0, "full_refusal"),
        ("2", 1.0, "compliance"),
        ("3", 0.0, "empty"),
    ]
    assert "over_refusal_rate=0.500" in summary and "balanced_accuracy=0.750" in summary


def test_json_valid_schema_per_row(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["a"]}
    path = write_jsonl(
        tmp_path / "outs.jsonl",
        [
            {"output": '{"a": 1}', "schema": schema, "expected": {"a": 1}},
            {"output": '```json\n{"a": 2}\n```', "schema": schema, "expected": {"a": 1}},
            {"output": '{"b": 1}', "schema": schema},
        ],
    )
    verdicts, summary = run("json_valid", '{"schema_field": "schema"}', path)
    assert [v["class"] for v in verdicts] == ["correct", "value_mismatch", "schema_violation"]
    assert "strict_valid_rate=0.333" in summary and "lenient_valid_rate=0.667" in summary


def test_blank_lines_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "outs.jsonl"
    path.write_text(
        '\ufeff{"output": "x", "expected": "x"}\n\n   \n{"output": "y", "expected": "x"}\n', encoding="utf-8"
    )
    verdicts, _ = run("exact_match", None, path)
    assert [v["id"] for v in verdicts] == ["line-1", "line-4"]


@pytest.mark.parametrize(
    ("lines", "error", "message"),
    [
        (['{"output": "a"}', "{not json"], DataError, "outs.jsonl:2: invalid JSON at column"),
        (['{"expected": "a"}'], DataError, "outs.jsonl:1: the row has no 'output' field"),
        (['{"output": null}'], DataError, "outs.jsonl:1: 'output' must be a string, not null"),
        (['{"output": 5}'], DataError, "'output' must be a string, not int"),
        (["[1, 2]"], DataError, "outs.jsonl:1: each line must be a JSON object, got list"),
        (['{"output": "a", "id": [1]}'], DataError, "'id' must be a string or an integer"),
        (['{"output": "a", "tags": "x"}'], DataError, "'tags' must be an object"),
        ([], DataError, "no rows"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, lines: list[str], error: type[EvalkitError], message: str
) -> None:
    path = write_jsonl(tmp_path / "outs.jsonl", lines)
    out = io.StringIO()
    with pytest.raises(error) as exc:
        run_score("exact_match", None, path, out, io.StringIO())
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)
    assert exc.value.exit_code == ExitCode.USAGE
    assert out.getvalue() == ""  # nothing written before the input was known to be good


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "outs.jsonl"
    path.write_bytes(b'{"output": "ok"}\n{"output": "\xff"}\n')
    with pytest.raises(DataError, match=r"outs.jsonl:2: not UTF-8"):
        run_score("exact_match", None, path, io.StringIO(), io.StringIO())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        run_score("exact_match", None, tmp_path / "nope.jsonl", io.StringIO(), io.StringIO())


@pytest.mark.parametrize(
    ("scorer", "args", "message"),
    [
        ("exact", None, "unknown scorer 'exact'. Did you mean exact_match?"),
        ("exact_match", "{bad", "--args: not valid JSON"),
        ("exact_match", "[1]", "--args: must be a JSON object"),
        ("exact_match", '{"lables": []}', "has no argument 'lables'. Did you mean labels?"),
        ("json_valid", '{"schema": {"type": "objekt"}}', "not a valid JSON Schema"),
    ],
)
def test_bad_configuration(tmp_path: Path, scorer: str, args: str | None, message: str) -> None:
    path = write_jsonl(tmp_path / "outs.jsonl", [{"output": "a"}])
    with pytest.raises(ConfigError) as exc:
        run_score(scorer, args, path, io.StringIO(), io.StringIO())
    assert message in str(exc.value)
