"""Scorers: the registry and the built-in families (``exact_match``, ``json_valid``, ``refusal``)."""

from evalkit.scorers.registry import ScoreFn, build_scorer, registered, scorer

__all__ = ["ScoreFn", "build_scorer", "registered", "scorer"]
