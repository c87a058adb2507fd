"""The provider snapshot that lets `evalkit validate` check model strings without importing LiteLLM."""

from __future__ import annotations

from evalkit.providers_list import KNOWN_PROVIDERS, LOCAL_PROVIDER, _current


def test_snapshot_matches_the_installed_litellm():
    assert sorted(KNOWN_PROVIDERS) == _current(), (
        "regenerate evalkit/providers_list.py from the installed LiteLLM"
    )


def test_the_usual_providers_are_known_and_local_is_ours():
    assert {
        "openai",
        "anthropic",
        "gemini",
        "together_ai",
        "groq",
        "fireworks_ai",
        "openrouter",
        "hosted_vllm",
        "ollama_chat",
    } <= KNOWN_PROVIDERS
    assert LOCAL_PROVIDER not in KNOWN_PROVIDERS
