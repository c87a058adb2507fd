"""The provider snapshot that lets `evalkit validate` check model strings without importing LiteLLM."""

from __future__ import annotations

from evalkit.config.catalog import KNOWN_PROVIDERS, LOCAL_PROVIDER
from evalkit.providers.litellm import provider_prefixes


def test_snapshot_matches_the_installed_litellm():
    assert sorted(KNOWN_PROVIDERS) == provider_prefixes(), (
        "regenerate evalkit/config/catalog.py from the installed LiteLLM"
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
