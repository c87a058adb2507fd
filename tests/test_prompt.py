"""Prompt rendering: strict variables, the expected answer never visible."""

from __future__ import annotations

import pytest

from evalkit.config.prompt import Renderer
from evalkit.config.schema import PromptConfig
from evalkit.errors import ConfigError
from evalkit.types import Sample

SAMPLE = Sample(
    id="s1", input="What is 2+2?", expected="4", fields={"topic": "math", "answers": ["4"]}, line=3
)


@pytest.mark.parametrize(
    ("system", "user", "expected"),
    [
        (None, "{{ input }}", [{"role": "user", "content": "What is 2+2?"}]),
        (
            "Topic: {{ topic }}",
            "Q: {{ input }}",
            [{"role": "system", "content": "Topic: math"}, {"role": "user", "content": "Q: What is 2+2?"}],
        ),
        (None, "{{ labels | join('|') }} {{ id }}", [{"role": "user", "content": "a|b s1"}]),
        (None, "{{ greeting }}", [{"role": "user", "content": "hi"}]),
    ],
)
def test_renders(system, user, expected):
    r = Renderer(
        PromptConfig(system=system, user=user, vars={"greeting": "hi"}),
        file_vars={"labels": ["a", "b"]},
        hidden=[],
        where="suite.yaml",
    )
    assert list(r.render(SAMPLE)) == expected


@pytest.mark.parametrize("template", ["{{ expected }}", "{{ answers }}", "{{ nope }}"])
def test_hidden_and_undefined_variables_fail_with_location(template):
    r = Renderer(PromptConfig(user=template), file_vars={}, hidden=["answers"], where="suite.yaml")
    with pytest.raises(ConfigError) as info:
        r.render(SAMPLE)
    assert "suite.yaml: prompt.user:" in str(info.value)
    assert "sample 's1', line 3" in str(info.value)


def test_sandbox_blocks_attribute_escapes():
    r = Renderer(
        PromptConfig(user="{{ input.__class__.__mro__[1].__subclasses__() }}"),
        file_vars={},
        hidden=[],
        where="s.yaml",
    )
    with pytest.raises(ConfigError):
        r.render(SAMPLE)


def test_should_refuse_is_never_visible():
    sample = Sample(id="x", input="q", expected=None, fields={"should_refuse": True}, line=1)
    r = Renderer(PromptConfig(user="{{ should_refuse }}"), file_vars={}, hidden=[], where="s.yaml")
    with pytest.raises(ConfigError, match="should_refuse"):
        r.render(sample)
