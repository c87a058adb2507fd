"""Suite loading: every problem is one line naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config.load import load_suite
from evalkit.config.schema import suite_json_schema
from evalkit.errors import ConfigError

BAD_SUITES = [
    # (overrides, expected substring of the one-line error)
    ({"modles": []}, "modles: unknown key (did you mean 'models'?)"),
    (
        {"dataset": {"path": "data.jsonl", "feilds": {}}},
        "dataset.feilds: unknown key (did you mean 'fields'?)",
    ),
    (
        {"models": [{"name": "a", "model": "openai/x", "group": "closed", "temprature": 0}]},
        "models.0.temprature: unknown key",
    ),
    (
        {"models": [{"name": "a", "model": "opnai/gpt-4o", "group": "closed"}]},
        "unknown provider 'opnai' in 'opnai/gpt-4o'. Did you mean openai/gpt-4o?",
    ),
    ({"models": [{"name": "a", "model": "gpt-4o", "group": "closed"}]}, "has no provider prefix"),
    ({"models": [{"name": "a", "model": "openai/x", "group": "middle"}]}, "models.0.group"),
    (
        {"models": [{"name": "a", "model": "openai/x", "group": "open", "params": {"api_key": "sk-1"}}]},
        "api_key_env",
    ),
    ({"models": []}, "models: List should have at least 1 item"),
    ({"scorers": ["exact"]}, "unknown scorer 'exact'. Did you mean exact_match?"),
    (
        {"scorers": [{"name": "exact_match", "args": {"case_sensitiv": True}}]},
        "has no argument 'case_sensitiv'",
    ),
    ({"dataset": {"path": "missing.jsonl"}}, "dataset.path: file not found"),
    ({"dataset": {"path": "../../etc/passwd"}}, "points outside the suite's folder"),
    ({"prompt": {"user": "{{ input "}}, "prompt.user: template error on line 1"),
    ({"gate": {"scorer": "nope"}}, "gate.scorer 'nope' is not one of the suite's scorers"),
    (
        {
            "models": [
                {"name": "a", "model": "openai/x", "group": "open"},
                {"name": "a", "model": "openai/y", "group": "open"},
            ]
        },
        "duplicate name 'a'",
    ),
    ({"epochs": 0}, "epochs: Input should be greater than or equal to 1"),
    ({"name": "../../etc"}, "name: String should match pattern"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_SUITES)
def test_bad_suite_is_one_clear_line(make_suite, overrides, message):
    path = make_suite(**overrides)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    text = str(info.value)
    assert str(path) in text
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
    ],
)
def test_not_a_suite(tmp_path: Path, content: str, message: str):
    path = tmp_path / "s.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_suite(path)


def test_missing_suite_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="suite file not found"):
        load_suite(tmp_path / "nope.yaml")


def test_valid_suite_resolves_and_hashes(make_suite):
    loaded = load_suite(make_suite())
    assert loaded.dataset_path.name == "data.jsonl"
    assert len(loaded.suite_hash) == 64
    # the task hash ignores the models; the suite hash does not
    other = load_suite(make_suite(models=[{"name": "b", "model": "groq/llama", "group": "open"}]))
    assert other.task_hash == loaded.task_hash
    assert other.suite_hash != loaded.suite_hash


def test_prompt_files_change_the_hash(make_suite, tmp_path: Path):
    path = make_suite(
        prompt={"user": "{{ labels | join(',') }} {{ input }}", "files": {"labels": "labels.json"}}
    )
    (path.parent / "labels.json").write_text('["a", "b"]')
    first = load_suite(path)
    assert first.file_vars == {"labels": ["a", "b"]}
    (path.parent / "labels.json").write_text('["a", "c"]')
    assert load_suite(path).suite_hash != first.suite_hash


def test_scorer_shorthand_and_defaults(make_suite):
    suite = load_suite(make_suite(scorers=["exact_match", {"name": "refusal", "id": "refused"}])).suite
    assert [s.key for s in suite.scorers] == ["exact_match", "refused"]
    assert suite.gate_scorer == "exact_match"


def test_json_schema_is_generated_and_committed():
    schema = suite_json_schema()
    assert schema["additionalProperties"] is False
    assert {"name", "dataset", "models", "scorers"} <= set(schema["required"])
    committed = Path(__file__).parent.parent / "docs" / "suite.schema.json"
    import json

    assert json.loads(committed.read_text()) == schema, "regenerate: evalkit schema > docs/suite.schema.json"


def test_shipped_suites_load():
    for path in sorted((Path(__file__).parent.parent / "suites").glob("*.yaml")):
        loaded = load_suite(path)
        assert loaded.suite.name == path.stem
