"""Secrets never reach a file or the terminal."""

from __future__ import annotations

import pytest

from evalkit._util.redact import MASK, redact


@pytest.mark.parametrize(
    "text",
    [
        "Incorrect API key provided: sk-proj-abcdefghijklmnop1234",
        "headers={'Authorization': 'Bearer abcdefghijklmnopqrstuvwxyz'}",
        "x-api-key: sk-ant-api03-abcdefghijkl",
        '{"api_key": "zzzzzzzzzzzzzz"}',
        "key=AIzaSyA1234567890abcdefghijklmnop",
    ],
)
def test_key_shapes_are_masked(text: str):
    out = redact(text)
    assert MASK in out
    for secret in (
        "abcdefghijklmnop1234",
        "abcdefghijklmnopqrstuvwxyz",
        "api03-abcdefghijkl",
        "zzzzzzzzzzzzzz",
        "AIzaSyA1234567890",
    ):
        assert secret not in out


def test_env_values_are_masked_whatever_their_shape(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MY_PROVIDER_TOKEN", "canary-7f3a9c")
    assert redact("failed with canary-7f3a9c in the URL") == f"failed with {MASK} in the URL"


def test_ordinary_text_is_untouched():
    text = "card_arrival: the answer is 42; set OPENAI_API_KEY to run this model"
    assert redact(text) == text
