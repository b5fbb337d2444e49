"""Routing: which receivers a failure goes to, and with which grouping and timings.

A tree of routes, Alertmanager style. The root matches everything. A failure descends
into the first child whose matchers all match its labels, and into later siblings too
when that child says `continue: true`; where no child matches, the current route takes
it. Children inherit receiver, `group_by`, timings, `max_groups` and `mention` from their
parent; a route without `mention` of its own or inherited takes its receiver's. As in
Alertmanager, `mute_time_intervals` and `active_time_intervals` are not inherited: each
route names its own (`engine.timeintervals`), and the root has none.
`group_by: ['...']` groups by every label of the failure; Alertmanager's older `match`
(equality) and `match_re` (regex) are read as matchers. The tree is checked whole, as Alertmanager
checks it at load: no matchers and no `continue` on the root, `group_interval` and
`repeat_interval` more than zero, `group_by` without repeats and with `...` alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from receiver.durations import Duration
from receiver.engine.matchers import Matcher, Matchers, all_match
from receiver.engine.timeintervals import MuteState, NamedTimeInterval, mute_state, muted_until
from receiver.model import Mention, Mentions

DEFAULT_GROUP_BY = ("category", "model_id")
EVERY_LABEL = "..."  # group_by: ['...'] groups by all of a failure's labels
# Open groups per route and category before new ones fold into an overflow group.
DEFAULT_MAX_GROUPS = 50


class RouteConfig(BaseModel):
    """A route as written in YAML; unset fields inherit from the parent."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    receiver: str | None = None
    matchers: Matchers = ()
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    resolve_after: Duration | None = None
    send_resolved: bool | None = None
    max_groups: int | None = Field(None, ge=1)
    mention: Mentions | None = None
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    continue_: bool = Field(False, alias="continue")
    routes: tuple[RouteConfig, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _older_matchers(cls, data: Any) -> Any:
        """Alertmanager's deprecated `match` and `match_re`, read as `=` and `=~` matchers."""
        if not isinstance(data, Mapping) or not {"match", "match_re"} & data.keys():
            return data
        data = dict(data)
        written = data.get("matchers", [])
        matchers = [written] if isinstance(written, str) else list(written or [])
        for key, op in (("match", "="), ("match_re", "=~")):
            table = data.pop(key, None) or {}
            if not isinstance(table, Mapping):
                raise ValueError(f"{key} is a map of label names to values")
            for name, value in table.items():
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise ValueError(f"{key}.{name}: needs a value, like {name}: flux-pro")
                matchers.append(Matcher(str(name), op, str(value)))
        data["matchers"] = matchers
        return data

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is None:
            return None
        if EVERY_LABEL in names and len(names) > 1:
            raise ValueError(f"{EVERY_LABEL!r} (every label) cannot be listed with other labels")
        for i, name in enumerate(names):
            if not name:
                raise ValueError("a label name cannot be empty")
            if name in names[:i]:
                raise ValueError(f"{name!r} is listed twice")
        return names


@dataclass(frozen=True, slots=True)
class Timing:
    group_wait: float
    group_interval: float
    repeat_interval: float
    resolve_after: float
    send_resolved: bool


@dataclass(frozen=True, slots=True)
class Route:
    """A route with everything inherited filled in. `id` is stable across restarts."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    timing: Timing
    continue_: bool
    children: tuple[Route, ...]
    max_groups: int = DEFAULT_MAX_GROUPS
    # Whom its incidents' first messages and new errors ping.
    mention: tuple[Mention, ...] = ()
    mute_time_intervals: tuple[NamedTimeInterval, ...] = ()
    active_time_intervals: tuple[NamedTimeInterval, ...] = ()

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take a failure with these labels (at least one)."""
        taken: list[Route] = []
        for child in self.children:
            if all_match(child.matchers, labels):
                taken.extend(child.match(labels))
                if not child.continue_:
                    break
        return taken or [self]

    def walk(self) -> list[Route]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found

    def mute_state(self, instant: float) -> MuteState:
        """Whether the route's time intervals mute it at `instant`, why, and until when."""
        return mute_state(self.mute_time_intervals, self.active_time_intervals, instant)

    def muted_until(self, instant: float) -> float | None:
        """When the route may notify again if muted at `instant`; None if it is not."""
        return muted_until(self.mute_time_intervals, self.active_time_intervals, instant)

    @property
    def groups_by_every_label(self) -> bool:
        return self.group_by == (EVERY_LABEL,)

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that name this failure's group on this route."""
        if self.groups_by_every_label:
            return dict(labels)
        return {name: labels.get(name, "") for name in self.group_by}


def build_routes(
    config: RouteConfig,
    *,
    defaults: Timing,
    receivers: Sequence[str] | Mapping[str, Sequence[Mention]],
    max_groups: int = DEFAULT_MAX_GROUPS,
    time_intervals: Sequence[NamedTimeInterval] = (),
) -> tuple[Route, list[str]]:
    """The resolved tree, and a list of problems (each naming its place in the tree).
    `receivers` are the receivers' names, or each name with its `mention`."""
    problems: list[str] = []
    if config.matchers:
        problems.append("route: the root route matches everything; it takes no matchers")
    if config.continue_:
        problems.append("route.continue: the root route has no siblings to continue to")
    for key in ("mute_time_intervals", "active_time_intervals"):
        if getattr(config, key):
            problems.append(f"route.{key}: the root route is never muted; set it on a child")
    mentions = receivers if isinstance(receivers, Mapping) else dict.fromkeys(receivers, ())
    root = _resolve(
        config,
        parent=None,
        path="route",
        inherited=defaults,
        max_groups=max_groups,
        context=_Context(
            receivers={name: tuple(m) for name, m in mentions.items()},
            intervals={named.name: named for named in time_intervals},
            problems=problems,
        ),
    )
    ids = [route.id for route in root.walk()]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"route: two routes share the name {duplicate!r}")
    return root, problems


@dataclass(frozen=True, slots=True)
class _Context:
    """What every route of the tree is resolved against, and where problems go."""

    receivers: Mapping[str, tuple[Mention, ...]]  # each receiver's own `mention`
    intervals: Mapping[str, NamedTimeInterval]
    problems: list[str]

    def named(self, names: tuple[str, ...], where: str) -> tuple[NamedTimeInterval, ...]:
        found = []
        for name in names:
            if name in self.intervals:
                found.append(self.intervals[name])
            else:
                known = ", ".join(sorted(self.intervals)) or "none"
                self.problems.append(f"{where}: {name!r} is not a defined time interval ({known})")
        return tuple(found)


def _resolve(
    config: RouteConfig,
    *,
    parent: Route | None,
    path: str,
    inherited: Timing,
    max_groups: int,
    context: _Context,
    inherited_mention: tuple[Mention, ...] | None = None,
) -> Route:
    problems, receivers = context.problems, context.receivers
    receiver = config.receiver or (parent.receiver if parent else None)
    if receiver is None:
        problems.append(f"{path}.receiver: the root route needs a receiver")
        receiver = ""
    elif receiver not in receivers:
        known = ", ".join(sorted(receivers)) or "none"
        problems.append(f"{path}.receiver: {receiver!r} is not a defined receiver ({known})")
    timing = Timing(
        group_wait=_pick(config.group_wait, inherited.group_wait),
        group_interval=_pick(config.group_interval, inherited.group_interval),
        repeat_interval=_pick(config.repeat_interval, inherited.repeat_interval),
        resolve_after=_pick(config.resolve_after, inherited.resolve_after),
        send_resolved=_pick(config.send_resolved, inherited.send_resolved),
    )
    if timing.group_interval <= 0:
        problems.append(f"{path}.group_interval: must be more than 0")
    if timing.repeat_interval <= 0:
        problems.append(f"{path}.repeat_interval: must be more than 0")
    if timing.resolve_after <= 0:
        problems.append(f"{path}.resolve_after: must be more than 0")
    group_by = (
        config.group_by
        if config.group_by is not None
        else (parent.group_by if parent else DEFAULT_GROUP_BY)
    )
    mention = config.mention if config.mention is not None else inherited_mention
    route = Route(
        id=config.name or path,
        receiver=receiver,
        matchers=config.matchers,
        group_by=tuple(group_by),
        timing=timing,
        continue_=config.continue_,
        children=(),
        max_groups=_pick(config.max_groups, max_groups),
        mention=mention if mention is not None else receivers.get(receiver, ()),
        mute_time_intervals=context.named(
            config.mute_time_intervals, f"{path}.mute_time_intervals"
        ),
        active_time_intervals=context.named(
            config.active_time_intervals, f"{path}.active_time_intervals"
        ),
    )
    children = tuple(
        _resolve(
            child,
            parent=route,
            path=f"{path}.routes[{i}]",
            inherited=timing,
            max_groups=route.max_groups,
            context=context,
            inherited_mention=mention,
        )
        for i, child in enumerate(config.routes)
    )
    return dataclasses.replace(route, children=children)


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value
