"""`failwatch incident list|show|ack|resolve` on a SQLite store holding one incident."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from receiver.cli.main import main
from receiver.loops.incidents import IncidentFilter, list_incidents
from tests.loops.harness import engine


async def one_incident(tmp_path: Path) -> str:
    async with engine(tmp_path, resolve_after="10h") as e:
        for _ in range(3):
            await e.fail()
        e.clock.advance(31)
        await e.settle()
        (incident,) = await list_incidents(e.store, IncidentFilter(), now=e.clock())
        return incident.id


def test_the_cli_lists_shows_and_acts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = asyncio.run(one_incident(tmp_path))
    monkeypatch.setenv("FAILWATCH_STATE_URL", f"sqlite:///{tmp_path}/fw.db")
    assert main(["incident", "list", "--state", "open"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == incident
    assert main(["incident", "list", "--state", "resolved"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["incident", "ack", incident, "--actor", "erin"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "done"
    assert main(["incident", "resolve", incident]) == 0
    capsys.readouterr()
    assert main(["incident", "ack", incident]) == 1
    assert "already resolved" in capsys.readouterr().err
    assert main(["incident", "show", incident]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [(a["action"], a["source"]) for a in shown["actions"]] == [
        ("ack", "cli"),
        ("resolve", "cli"),
    ]
    assert shown["actions"][0]["actorName"] == "erin"
    assert shown["state"] == "resolved"
    assert main(["incident", "show", "0" * 24 + "-9"]) == 1
