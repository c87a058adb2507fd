"""What the test server received, counted: :class:`Stats` (a snapshot) and the rolling rate window."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["KEEP_LAST", "RATE_WINDOW_S", "Counters", "RateWindow", "Stats"]

KEEP_LAST = 1000
"""How many request bodies and header sets :class:`Stats` keeps."""
RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class Stats:
    """A snapshot of what the server received. Control requests are not counted."""

    total: int
    """Requests that reached a chat/messages endpoint, errors included."""
    by_model: dict[str, int]
    by_status: dict[int, int]
    """Statuses sent; dropped and hung requests have none."""
    in_flight: int
    max_in_flight: int
    max_in_flight_by_model: dict[str, int]
    bodies: list[Any]
    """The last :data:`KEEP_LAST` request bodies as parsed JSON (the text if not JSON)."""
    headers: list[dict[str, str]]
    """The last :data:`KEEP_LAST` request headers, raw."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (status keys become strings)."""
        return asdict(self)


class Counters:
    """The mutable side of :class:`Stats`, behind a lock (read from other threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._in_flight_total = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_model: dict[str, int] = {}
            self._by_status: dict[int, int] = {}
            self._max = self._in_flight_total
            self._max_by_model = {m: n for m, n in self._in_flight.items() if n}
            self._bodies: deque[Any] = deque(maxlen=KEEP_LAST)
            self._headers: deque[dict[str, str]] = deque(maxlen=KEEP_LAST)

    def arrive(self, model: str, body: Any, headers: dict[str, str]) -> None:
        with self._lock:
            self._total += 1
            self._by_model[model] = self._by_model.get(model, 0) + 1
            self._bodies.append(body)
            self._headers.append(headers)
            now = self._in_flight[model] = self._in_flight.get(model, 0) + 1
            self._max_by_model[model] = max(self._max_by_model.get(model, 0), now)
            self._in_flight_total += 1
            self._max = max(self._max, self._in_flight_total)

    def leave(self, model: str, status: int | None) -> None:
        with self._lock:
            self._in_flight[model] -= 1
            self._in_flight_total -= 1
            if status is not None:
                self._by_status[status] = self._by_status.get(status, 0) + 1

    def snapshot(self) -> Stats:
        with self._lock:
            return Stats(
                total=self._total,
                by_model=dict(self._by_model),
                by_status=dict(self._by_status),
                in_flight=self._in_flight_total,
                max_in_flight=self._max,
                max_in_flight_by_model=dict(self._max_by_model),
                bodies=list(self._bodies),
                headers=list(self._headers),
            )


class RateWindow:
    """Admits ``limit`` requests per rolling ``window_s`` (default :data:`RATE_WINDOW_S`)."""

    def __init__(self, limit: int | None, window_s: float = RATE_WINDOW_S) -> None:
        self._limit = limit
        self._window = window_s
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()

    def admit(self) -> float | None:
        """``None`` when admitted, else the seconds until a slot frees."""
        if self._limit is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._admitted and self._admitted[0] <= now - self._window:
                self._admitted.popleft()
            if len(self._admitted) < self._limit:
                self._admitted.append(now)
                return None
            return max(0.001, self._admitted[0] + self._window - now)

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()
