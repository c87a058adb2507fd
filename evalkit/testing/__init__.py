"""evalkit's loopback test server: a fake LLM provider on 127.0.0.1 speaking OpenAI's chat completions
and Anthropic's messages (plain, streamed, and their batch APIs), scriptable to misbehave.

For tests, benchmarks and smoke runs only: the product never imports this package (``make lint``
checks it), and it needs the ``testing`` extra (``pip install 'evalkit[testing]'``: aiohttp).
``python -m evalkit.testing --port 8000`` serves it from the command line.
"""

from evalkit.testing.rules import Responder, Rule
from evalkit.testing.server import TestServer
from evalkit.testing.stats import Stats

__all__ = ["Responder", "Rule", "Stats", "TestServer"]
