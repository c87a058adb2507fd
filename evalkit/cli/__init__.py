"""The command line: thin — parse, call the library, map outcomes to exit codes (:mod:`evalkit.cli.main`).
``--help`` and ``validate`` never import LiteLLM."""

from evalkit.cli.main import console, main

__all__ = ["console", "main"]
