"""Dataset reading: every problem names file:line and the field; nothing is silently skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.config.dataset import load_dataset
from evalkit.config.schema import DatasetConfig
from evalkit.errors import DataError

OK = '{"id": "a", "input": "x", "expected": "y"}\n'

BAD = [
    (b"", "the dataset is empty"),
    (OK.encode() + b'{"id": "b", "input": "x", "expected": \n', ":2: invalid JSON at column"),
    (OK.encode() + b'["a list"]\n', ":2: each line must be a JSON object, got list"),
    (OK.encode() + OK.encode(), ":2: duplicate id 'a' (first seen on line 1)"),
    (b'{"input": "x", "expected": "y"}\n', ":1: missing id field 'id'"),
    (b'{"id": "a", "expected": "y"}\n', ":1: missing input field 'input'"),
    (b'{"id": "a", "input": "x"}\n', ":1: missing expected field 'expected'"),
    (b'{"id": "a", "input": 3, "expected": "y"}\n', ":1: field 'input' must be a string, got int"),
    (b'{"id": {"x": 1}, "input": "x", "expected": "y"}\n', "field 'id' must be a string or an integer"),
    (OK.encode() + b'{"id": "b", "input": "caf\xe9", "expected": "y"}\n', ":2: not UTF-8"),
    (
        b'{"id": "a", "input": "x", "expected": "y", "should_refuse": "yes"}\n',
        ":1: field 'should_refuse' must be boolean, got string",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD)
def test_bad_rows(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_dataset(path, DatasetConfig(path="d.jsonl"))
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_field_on_line_17_of_400(tmp_path: Path):
    rows = [{"id": i, "input": f"q{i}", "expected": "a"} for i in range(400)]
    del rows[16]["expected"]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"d\.jsonl:17: missing expected field 'expected'"):
        load_dataset(path, DatasetConfig(path="d.jsonl"))


def test_bom_crlf_and_blank_lines_are_accepted(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + OK.encode().replace(b"\n", b"\r\n")
        + b"\r\n\n"
        + b'{"id": 7, "input": "z", "expected": null}\r\n'
    )
    ds = load_dataset(path, DatasetConfig(path="d.jsonl"))
    assert [s.id for s in ds.samples] == ["a", "7"]
    assert [s.line for s in ds.samples] == [1, 4]
    assert ds.samples[1].expected is None
    assert ds.warnings and "fewer than 200" in ds.warnings[0]


def test_field_mapping_tags_and_required(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps({"qid": "q1", "text": "hi", "label": "greet", "kind": "social", "extra": 1}) + "\n"
    )
    cfg = DatasetConfig.model_validate(
        {
            "path": "d.jsonl",
            "fields": {"id": "qid", "input": "text", "expected": "label"},
            "tags": ["kind"],
            "required": ["extra"],
        }
    )
    (s,) = load_dataset(path, cfg).samples
    assert (s.id, s.input, s.expected, s.tags) == ("q1", "hi", "greet", {"kind": "social"})
    assert s.fields == {"kind": "social", "extra": 1}
    bad = DatasetConfig.model_validate({**cfg.model_dump(), "required": ["should_refuse"]})
    with pytest.raises(DataError, match="missing required field 'should_refuse'"):
        load_dataset(path, bad)


def test_fingerprint_changes_with_content(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(OK)
    a = load_dataset(path, DatasetConfig(path="d.jsonl")).sha256
    path.write_text(OK.replace('"y"', '"z"'))
    assert load_dataset(path, DatasetConfig(path="d.jsonl")).sha256 != a


def test_too_long_line_is_refused(tmp_path: Path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a", "input": "x" * 9_000_000, "expected": "y"}) + "\n")
    with pytest.raises(DataError, match=r":1: line is 9\.0 MB; the limit is 8 MB"):
        load_dataset(path, DatasetConfig(path="d.jsonl"))


def test_csv_and_parquet_through_datasets(tmp_path: Path):
    import pandas as pd

    frame = pd.DataFrame({"id": ["a", "b"], "input": ["x", "y"], "expected": ["1", "2"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    for name, first_line in (("d.csv", 2), ("d.parquet", 1)):
        ds = load_dataset(tmp_path / name, DatasetConfig(path=name))
        assert [s.id for s in ds.samples] == ["a", "b"]
        assert ds.samples[0].line == first_line
    frame.assign(id=["a", "a"]).to_csv(tmp_path / "dup.csv", index=False)
    with pytest.raises(DataError, match=r"dup\.csv:3: duplicate id 'a' \(first seen on line 2\)"):
        load_dataset(tmp_path / "dup.csv", DatasetConfig(path="dup.csv"))


def test_unknown_extension(tmp_path: Path):
    path = tmp_path / "d.txt"
    path.write_text(OK)
    with pytest.raises(DataError, match=r"set dataset\.format"):
        load_dataset(path, DatasetConfig(path="d.txt"))


@pytest.mark.parametrize(
    ("types", "value", "ok"),
    [
        ("integer", 3, True),
        ("integer", True, False),
        ("number", 2.5, True),
        ("array", [1], True),
        ("object", [], False),
        ("string", None, False),
    ],
)
def test_declared_field_types(tmp_path: Path, types: str, value, ok: bool):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"id": "a", "input": "x", "expected": "y", "f": value}) + "\n")
    cfg = DatasetConfig.model_validate({"path": "d.jsonl", "types": {"f": types}})
    if ok:
        assert load_dataset(path, cfg).samples[0].fields["f"] == value
    else:
        with pytest.raises(DataError, match=f":1: field 'f' must be {types}, got"):
            load_dataset(path, cfg)
