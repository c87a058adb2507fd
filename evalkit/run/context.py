"""Everything one run works with, made once from the loaded suite: the dataset and the samples this
run uses, the prompt renderer, the scorers, each model's plan and live state, the recorded
baselines, the budget and how the run was executed. Each phase of :mod:`evalkit.run.runner` reads
and updates one :class:`RunContext`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evalkit.config.dataset import Dataset, load_dataset
from evalkit.config.load import LoadedSuite
from evalkit.config.prompt import Renderer
from evalkit.config.schema import Suite
from evalkit.report.process import ReportProcess
from evalkit.run.budget import Budget
from evalkit.run.plan import ModelPlan, RunOptions, plan_models
from evalkit.run.recorded import Replay
from evalkit.run.state import ModelState, model_entry
from evalkit.scorers._async import AnyScoreFn
from evalkit.scorers.registry import build_scorer, registered
from evalkit.types import Sample

__all__ = ["Echo", "RunContext"]

Echo = Callable[[str], None]


@dataclass
class RunContext:
    """One run's inputs and state (see the module docstring)."""

    loaded: LoadedSuite
    options: RunOptions
    echo: Echo
    dataset: Dataset
    samples: list[Sample]
    renderer: Renderer
    scorers: dict[str, AnyScoreFn]
    """Scorer key -> its function (maybe async: the recorder awaits it)."""
    reads: dict[str, str]
    """Scorer key -> ``text`` or ``completion`` (what its function is called with)."""
    plans: list[ModelPlan]
    states: list[ModelState]
    budget: Budget
    n_owned: int
    """The samples this run sends: all of them, or its shard's."""
    replays: dict[int, Replay] = field(default_factory=dict)
    """Plan index -> a replayed model's recorded answers (loaded in the preflight)."""
    execution: dict[str, Any] = field(default_factory=lambda: {"workers": 0})
    """How the run was executed (worker processes, seconds per phase), for run.json and the benchmark."""
    resuming: bool = False
    reporter: ReportProcess | None = None
    """The forked report writer of a run with worker processes (:mod:`evalkit.report.process`)."""

    @classmethod
    def build(cls, loaded: LoadedSuite, options: RunOptions, echo: Echo) -> RunContext:
        """Read the data, build the renderer and scorers, and plan every model (no network)."""
        suite = loaded.suite
        dataset = load_dataset(loaded.dataset_path, suite.dataset)
        samples = dataset.samples[: options.limit] if options.limit else dataset.samples
        renderer = Renderer(
            suite.prompt, file_vars=loaded.file_vars, hidden=suite.dataset.hidden, where=str(loaded.path)
        )
        scorers: dict[str, AnyScoreFn] = {
            sc.key: build_scorer(
                sc.name,
                sc.args,
                base_dir=loaded.base_dir,
                where=f"{loaded.path}: scorers.{i}",
                allow_async=True,
            )
            for i, sc in enumerate(suite.scorers)
        }
        specs = registered()
        reads = {sc.key: specs[sc.name].reads for sc in suite.scorers}
        plans = plan_models(suite, options.models, loaded.path)
        n_owned = options.shard.count_in(s.id for s in samples) if options.shard else len(samples)
        return cls(
            loaded=loaded,
            options=options,
            echo=echo,
            dataset=dataset,
            samples=samples,
            renderer=renderer,
            scorers=scorers,
            reads=reads,
            plans=plans,
            states=[ModelState.for_plan(p) for p in plans],
            budget=Budget(options.max_cost_usd or suite.max_cost_usd),
            n_owned=n_owned,
        )

    @property
    def suite(self) -> Suite:
        return self.loaded.suite

    @property
    def runnable(self) -> list[int]:
        """Indexes of the models that run (not skipped for a missing key)."""
        return [i for i, s in enumerate(self.states) if s.status != "skipped"]

    @property
    def planned(self) -> int:
        """Cells this run owns: its samples x epochs x the models that run."""
        return self.n_owned * self.suite.epochs * len(self.runnable)

    def model_entries(self) -> list[dict[str, Any]]:
        """run.json's ``models``, as the run stands."""
        return [
            model_entry(p, s, self.replays[i].manifest() if i in self.replays else None)
            for i, (p, s) in enumerate(zip(self.plans, self.states, strict=True))
        ]

    def counts(self) -> dict[str, int]:
        """run.json's ``counts``."""
        return {
            "planned": self.planned,
            "done": sum(s.done for s in self.states),
            "errors": sum(s.errors for s in self.states),
            "cached": sum(s.cached for s in self.states),
        }
