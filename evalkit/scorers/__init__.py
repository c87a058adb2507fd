"""Scorers: the registry and the built-in families.

Importing this package registers every built-in family (each module's ``@scorer`` decorators run);
the registry itself never imports a family, so the families import it without a circle.
"""

from evalkit.scorers import (  # noqa: F401  (importing them registers them)
    answer_match,
    code_exec,
    exact,
    instructions,
    json_valid,
    numeric,
    refusal,
    tool_calls,
)
from evalkit.scorers.registry import ScoreFn, build_scorer, registered, scorer

__all__ = ["ScoreFn", "build_scorer", "registered", "scorer"]
