"""How mail clients put received messages into threads (conversations), as documented
and observed, to check that an incident's e-mails stay one thread in each.

- **Gmail** joins a message to a conversation when its subject, once `Re:`/`Fwd:` are
  stripped, equals the conversation's and the two share a Message-ID (its own, or one
  in In-Reply-To or References, with one of the conversation's); a changed subject
  starts a new conversation whatever the references.
- **Outlook** groups by the conversation index: the first 22 bytes of the base64
  Thread-Index, which every reply extends; without one, by Thread-Topic, else by the
  normalised subject.
- **Apple Mail** follows the references alone: messages linked through Message-ID,
  In-Reply-To and References are one thread (JWZ's algorithm, without the subject
  fallback).

Each function returns the threads as lists of indexes into `messages`, in order of
their first message.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from email.message import EmailMessage

_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs)\s*:\s*)+", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Outlook's conversation index: a reserved byte, 5 bytes of time, a 16-byte GUID.
_CONVERSATION_ROOT = 22


def normalised_subject(message: EmailMessage) -> str:
    subject = str(message["Subject"] or "")
    return " ".join(_REPLY_PREFIX.sub("", subject).split()).casefold()


def message_id(message: EmailMessage) -> str | None:
    found = _MESSAGE_ID.findall(str(message["Message-ID"] or ""))
    return found[0] if found else None


def referenced(message: EmailMessage) -> list[str]:
    """The Message-IDs in In-Reply-To and References."""
    text = f"{message['References'] or ''} {message['In-Reply-To'] or ''}"
    return _MESSAGE_ID.findall(text)


def gmail_threads(messages: Sequence[EmailMessage]) -> list[list[int]]:
    threads: list[tuple[str, set[str], list[int]]] = []
    for index, message in enumerate(messages):
        subject, known = normalised_subject(message), set(referenced(message))
        if (own := message_id(message)) is not None:
            known.add(own)
        joined = next((t for t in threads if t[0] == subject and t[1] & known), None)
        if joined is None:
            joined = (subject, set(), [])
            threads.append(joined)
        joined[1].update(known)
        joined[2].append(index)
    return [members for _, _, members in threads]


def outlook_threads(messages: Sequence[EmailMessage]) -> list[list[int]]:
    threads: dict[object, list[int]] = {}
    for index, message in enumerate(messages):
        threads.setdefault(_conversation(message), []).append(index)
    return list(threads.values())


def _conversation(message: EmailMessage) -> object:
    index = str(message["Thread-Index"] or "").strip()
    if index:
        raw = base64.b64decode(index, validate=True)
        # A child block is 5 bytes: anything else is no index Outlook would write.
        assert len(raw) >= _CONVERSATION_ROOT
        assert (len(raw) - _CONVERSATION_ROOT) % 5 == 0
        return ("index", raw[:_CONVERSATION_ROOT])
    topic = str(message["Thread-Topic"] or "").strip()
    return ("topic", topic.casefold()) if topic else ("subject", normalised_subject(message))


def apple_mail_threads(messages: Sequence[EmailMessage]) -> list[list[int]]:
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    nodes = []
    for index, message in enumerate(messages):
        node = message_id(message) or f"#{index}"
        nodes.append(node)
        for other in referenced(message):
            parent[root(other)] = root(node)
    threads: dict[str, list[int]] = {}
    for index, node in enumerate(nodes):
        threads.setdefault(root(node), []).append(index)
    return list(threads.values())
