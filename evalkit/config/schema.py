"""The suite file format (``suites/NAME.yaml``) as pydantic models: every key, its type, its default
and its description. A leaf of the config layer: :mod:`evalkit.config.load` reads and checks a file
against it, and ``evalkit schema`` prints its JSON Schema for editors (:func:`suite_json_schema`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evalkit._util.names import did_you_mean
from evalkit.config.catalog import BATCH_PROVIDERS, KNOWN_PROVIDERS, LOCAL_PROVIDER, get_local_spec
from evalkit.errors import ConfigError
from evalkit.types import Group


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """Prices that override LiteLLM's price map for a model (USD per million tokens)."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(
        default=None, ge=0, description="Cached-input rate (shown in the report; not applied yet)."
    )


class SelfHosted(_Strict):
    """What a self-hosted deployment of the model costs (docs/economics.md)."""

    gpu_hourly_usd: float = Field(gt=0, description="USD per GPU-hour.")
    gpus: int = Field(default=1, ge=1, description="GPUs per replica (one serving instance).")
    tokens_per_s: float = Field(
        gt=0,
        description="All tokens (input + output) one replica processes per second at the concurrency "
        "you will run (measured, e.g. vLLM's benchmark 'Total token throughput').",
    )
    engineering_hours_per_month: float = Field(default=0, ge=0)
    engineer_hourly_usd: float = Field(default=0, ge=0)
    billing: Literal["always_on", "per_use"] = Field(
        default="always_on",
        description="always_on: the GPUs are paid 24/7 (730 h/month) per replica; "
        "per_use: only the GPU time the tokens use (serverless or shared GPUs).",
    )


class Volume(_Strict):
    """The production volume the economics are projected to: exactly one key."""

    requests_per_day: float | None = Field(default=None, gt=0)
    requests_per_month: float | None = Field(default=None, gt=0)
    tokens_per_month: float | None = Field(
        default=None, gt=0, description="In the baseline (best closed) model's tokens, input + output."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Volume:
        given = [
            k for k in ("requests_per_day", "requests_per_month", "tokens_per_month") if getattr(self, k)
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of requests_per_day, requests_per_month, tokens_per_month"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class FieldMap(_Strict):
    """Which source columns hold the id, the input and the expected answer."""

    id: str = "id"
    input: str = "input"
    expected: str | None = "expected"


class DatasetConfig(_Strict):
    path: str = Field(description="Data file, relative to the suite file's folder (or absolute).")
    format: Literal["jsonl", "csv", "parquet", "json"] | None = Field(
        default=None, description="Default: from the file extension (.jsonl, .csv, .parquet, .json)."
    )
    fields: FieldMap = FieldMap()
    tags: list[str] = Field(
        default_factory=list, description="Fields whose values are slice tags in the report."
    )
    hidden: list[str] = Field(
        default_factory=list,
        description="Further fields the prompt template must not see (the expected field is always hidden).",
    )
    required: list[str] = Field(
        default_factory=list, description="Fields every row must have (e.g. should_refuse)."
    )
    types: dict[str, Literal["string", "number", "integer", "boolean", "object", "array"]] = Field(
        default_factory=dict,
        description="JSON type a field must have where present, e.g. {should_refuse: boolean}. "
        "should_refuse is always checked as boolean.",
    )


class PromptConfig(_Strict):
    system: str | None = Field(default=None, description="Jinja2 template of the system message.")
    user: str = Field(default="{{ input }}", description="Jinja2 template of the user message.")
    files: dict[str, str] = Field(
        default_factory=dict,
        description="Template variables read from files relative to the suite (.json parsed, other files as text).",
    )
    vars: dict[str, Any] = Field(default_factory=dict, description="Constant template variables.")


class ModelDefaults(_Strict):
    params: dict[str, Any] = Field(default_factory=dict, description="LiteLLM parameters for every model.")
    concurrency: int = Field(default=4, ge=1, le=1024)
    timeout_s: float = Field(default=120.0, gt=0, description="Per attempt.")
    max_attempts: int = Field(default=4, ge=1, le=20)
    max_retry_time_s: float = Field(
        default=300.0, gt=0, description="Cap on one request's total time with retries."
    )


class ModelConfig(_Strict):
    name: str = Field(description="Short display name used in reports.")
    model: str = Field(
        description="LiteLLM model string 'provider/name' (e.g. openai/gpt-4o-mini, hosted_vllm/NAME); "
        "'local/smollm2-135m-instruct' or 'local/gemma3-270m' for the embedded offline models."
    )
    group: Group = Field(description="closed (the API you use today) or open (the candidate).")
    api_base: str | list[str] | None = Field(
        default=None,
        description="The server's URL (e.g. http://host:8000/v1 for vLLM), or a list of replicas of the same "
        "model: evalkit spreads the requests across them (docs/scaling-open-models.md).",
    )
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding this model's key (never put the key itself here).",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Overrides defaults.params for this model."
    )
    concurrency: int | None = Field(default=None, ge=1, le=1024)
    timeout_s: float | None = Field(default=None, gt=0)
    max_attempts: int | None = Field(default=None, ge=1, le=20)
    price: Price | None = None
    self_hosted: SelfHosted | None = Field(
        default=None,
        description="Cost it as a self-hosted deployment instead of per token (docs/economics.md).",
    )
    replay: str | None = Field(
        default=None,
        description="Take this model's answers from a recorded run folder or a JSONL of {id, output} "
        "(relative to the suite) instead of calling it: a baseline recorded once.",
    )
    replay_model: str | None = Field(
        default=None, description="The model's name in the replayed run folder (default: this entry's name)."
    )
    batch: bool = Field(
        default=False,
        description="Send this model's requests through the provider's batch API (openai/ and anthropic/ "
        "only): half the price, results within 24 h (docs/scaling-batch.md).",
    )

    @field_validator("model")
    @classmethod
    def _known_provider(cls, v: str) -> str:
        provider, sep, rest = v.partition("/")
        if not sep or not rest:
            raise ValueError(f"'{v}' has no provider prefix; write it as LiteLLM does, e.g. openai/{v}")
        if provider == LOCAL_PROVIDER:
            try:
                get_local_spec(rest)
            except ConfigError as exc:  # pydantic reports ValueErrors with the key path
                raise ValueError(exc.message) from None
        elif provider not in KNOWN_PROVIDERS:
            hint = did_you_mean(provider, [*KNOWN_PROVIDERS, LOCAL_PROVIDER], cutoff=0.6, fmt="{}/" + rest)
            raise ValueError(f"unknown provider '{provider}' in '{v}'.{hint}")
        return v

    @model_validator(mode="after")
    def _price_or_self_hosted(self) -> ModelConfig:
        if self.price is not None and self.self_hosted is not None:
            raise ValueError("give price (an API) or self_hosted (your GPUs), not both")
        return self

    @field_validator("api_base")
    @classmethod
    def _replicas(cls, v: str | list[str] | None) -> str | list[str] | None:
        if isinstance(v, list):
            if not v:
                raise ValueError("an empty list: give one URL, or several replicas of the same model")
            if any(not b.strip() for b in v):
                raise ValueError("an empty URL in the list of replicas")
            dup = next((b for i, b in enumerate(v) if b in v[:i]), None)
            if dup is not None:
                raise ValueError(f"'{dup}' is listed twice")
        return v

    @field_validator("params")
    @classmethod
    def _no_keys_in_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        if "api_key" in v:
            raise ValueError("do not put api_key in a suite; name its environment variable with api_key_env")
        return v

    @model_validator(mode="after")
    def _batch_provider(self) -> ModelConfig:
        if self.batch and self.model.partition("/")[0] not in BATCH_PROVIDERS:
            raise ValueError(
                f"model '{self.name}' ({self.model}): batch: true needs an openai/ or anthropic/ model "
                "(only their batch APIs are supported)"
            )
        return self


class ScorerConfig(_Strict):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, description="Column name in reports (default: the scorer name).")

    @property
    def key(self) -> str:
        return self.id or self.name


class PartialConfig(_Strict):
    """A partial migration (docs/statistics.md, "Partial migration"): which slices can move to the open
    model. Always shown in the report; a gate outcome only with ``allow: true``."""

    allow: bool = Field(
        default=False,
        description="Let the gate answer 'migrate partially' (exit 5) when no open model can take over "
        "everything but some slices can move to one. Off: the section is informational.",
    )
    fields: list[str] | None = Field(
        default=None,
        description="The dataset.tags fields a router may route on (default: every dataset.tags field). "
        "Only fields known before the call: a tag derived from the expected answer (e.g. XSTest's label) "
        "is no routing key.",
    )
    length_buckets: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Input-length buckets (quantiles of the input's characters) sliced beside the tags; 0: none.",
    )

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, v: list[str] | None) -> list[str] | None:
        dup = next((f for i, f in enumerate(v or ()) if f in (v or [])[:i]), None)
        if dup is not None:
            raise ValueError(f"{dup!r} is listed twice")
        return v


class GateConfig(_Strict):
    """The migration gate (docs/statistics.md): migrate, stay or inconclusive (or migrate partially,
    with ``partial.allow``)."""

    scorer: str | None = Field(default=None, description="Which scorer the rules read (default: the first).")
    max_gap: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Non-inferiority margin: migrate when the interval of best-closed minus an open model's "
        "score lies at or below it, stay when it lies above (fraction).",
    )
    min_score: dict[Group, float] = Field(
        default_factory=dict,
        description="Lowest acceptable score per group, e.g. {open: 0.7}; an open model below it cannot take over.",
    )
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    inconclusive: Literal["fail", "pass"] = Field(
        default="fail",
        description="When the data cannot decide (the gap interval contains max_gap): fail (exit 4) "
        "or pass (exit 0 with a warning).",
    )
    confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Confidence level of every interval in the report and the gate.",
    )
    partial: PartialConfig = Field(
        default_factory=PartialConfig,
        description="Partial migration: the tag fields a router may use, and whether the gate may answer "
        "'migrate partially' (docs/statistics.md).",
    )


class Suite(_Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="The task's name; results go to results/<name>/ (letters, digits, . _ -).",
    )
    version: str = "1"
    description: str = ""
    dataset: DatasetConfig
    prompt: PromptConfig = PromptConfig()
    defaults: ModelDefaults = ModelDefaults()
    models: list[ModelConfig] = Field(min_length=1)
    scorers: list[ScorerConfig] = Field(min_length=1)
    epochs: int = Field(default=1, ge=1, le=100)
    max_cost_usd: float | None = Field(
        default=None, gt=0, description="Stop sending before this run's spend would cross this cap (USD)."
    )
    errors: Literal["count_as_wrong", "exclude"] = Field(
        default="count_as_wrong",
        description="How failed requests count: as wrong answers (a migration must count a model that times out) "
        "or excluded (means and gaps over the examples every model answered). Error counts are shown either way.",
    )
    gate: GateConfig = GateConfig()
    volume: Volume | None = Field(
        default=None,
        description="Production volume for the cost projection (docs/economics.md): exactly one of "
        "requests_per_day, requests_per_month, tokens_per_month.",
    )

    @field_validator("scorers", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        # "- exact_match" is short for "- name: exact_match"
        if isinstance(v, list):
            return [{"name": s} if isinstance(s, str) else s for s in v]
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v

    @model_validator(mode="after")
    def _unique_names(self) -> Suite:
        for what, names in (
            ("models", [m.name for m in self.models]),
            ("scorers", [s.key for s in self.scorers]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}: duplicate name {dupes[0]!r}")
        if self.gate.scorer is not None and self.gate.scorer not in [s.key for s in self.scorers]:
            raise ValueError(f"gate.scorer {self.gate.scorer!r} is not one of the suite's scorers")
        for name in self.gate.partial.fields or ():
            if name not in self.dataset.tags:
                hint = did_you_mean(name, self.dataset.tags, cutoff=0.6, fmt="'{}'")
                tags = ", ".join(self.dataset.tags) or "none"
                raise ValueError(f"gate.partial.fields: {name!r} is not one of dataset.tags ({tags}).{hint}")
        return self

    # --- resolved settings -------------------------------------------------------------------

    def params_for(self, m: ModelConfig) -> dict[str, Any]:
        return {**self.defaults.params, **m.params}

    def concurrency_for(self, m: ModelConfig) -> int:
        return m.concurrency or self.defaults.concurrency

    @property
    def gate_scorer(self) -> str:
        return self.gate.scorer or self.scorers[0].key


def suite_json_schema() -> dict[str, Any]:
    """The JSON Schema of the suite format (for editors: yaml-language-server)."""
    schema = Suite.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "evalkit suite"
    return schema
