"""Which silence mutes a failure, without trying every silence on every failure.

Most silences name a model or a category exactly (`model_id="flux-pro"`). Each silence
with such an equality matcher is filed under its first one, (name, value); a failure's
labels then pick out the few silences filed under values they have, and only those —
plus the silences with no equality matcher at all, which must be tried every time — are
matched in full. The answer is the one a scan in order would give: the first silence, in
the order given, whose matchers all match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, Protocol, TypeVar


class _Matcher(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def value(self) -> str: ...
    def matches(self, labels: Mapping[str, str]) -> bool: ...


class _Silence(Protocol):
    @property
    def matchers(self) -> Sequence[_Matcher]: ...


S = TypeVar("S", bound=_Silence)


class SilenceIndex(Generic[S]):
    def __init__(self, silences: Sequence[S]) -> None:
        self._silences = tuple(silences)
        self._filed: dict[tuple[str, str], list[int]] = {}
        self._always: list[int] = []
        for position, silence in enumerate(self._silences):
            key = next(((m.name, m.value) for m in silence.matchers if m.op == "="), None)
            if key is None:
                self._always.append(position)
            else:
                self._filed.setdefault(key, []).append(position)
        self._names = {name for name, _ in self._filed}

    def __len__(self) -> int:
        return len(self._silences)

    def first_match(self, labels: Mapping[str, str]) -> S | None:
        """The first silence (in the order given) all of whose matchers match `labels`."""
        candidates = list(self._always)
        for name in self._names:
            candidates += self._filed.get((name, labels.get(name, "")), ())
        for position in sorted(candidates):
            silence = self._silences[position]
            if all(m.matches(labels) for m in silence.matchers):
                return silence
        return None
