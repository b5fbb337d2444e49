"""The console: one line a person at a terminal reads at a glance, per notification.

`14:10 UTC first rate_limit · flux-pro · 37 failures (37 in episode) · 12 users`, then
the top error with its count and the receiver: the reason, the incident, the counts.
Every value is made one line with control characters dropped (`facts.one_line`), so a
failure's text can neither break the line nor send a terminal escape sequence.
"""

from __future__ import annotations

from receiver.model import Notification, Reason
from receiver.notifiers.render import facts

LINE_CHARS = 1000


def terminal_line(notification: Notification) -> str:
    n = notification
    when = facts.clock(n.created_at)
    if n.digest:
        listed = "; ".join(facts.digest_lines(n))
        return facts.one_line(f"{when} digest {facts.summary(n)}: {listed}", LINE_CHARS)
    parts = [f"{when} {n.reason.value} {facts.topic(n)}", _counts(n)]
    if n.users_affected:
        parts.append(facts.count(n.users_affected, "user"))
    if n.top_errors:
        top = n.top_errors[0]
        parts.append(f"top error {top.count}{facts.TIMES} {facts.one_line(top.message)}")
    if n.action:
        parts.append(facts.one_line(n.action))
    parts.append(f"receiver {facts.one_line(n.receiver, facts.LABEL_CHARS)}")
    return facts.one_line(" · ".join(parts), LINE_CHARS)


def _counts(notification: Notification) -> str:
    """`37 failures (37 in episode)`; `still failing (61 in episode)` with nothing new."""
    n = notification
    in_episode = f"({n.episode_failures} in episode)"
    if n.reason is Reason.RESOLVED:
        return f"resolved {in_episode}"
    if not n.window_failures:
        return f"still failing {in_episode}"
    return f"{facts.failures(n, n.window_failures)} {in_episode}"
