"""A real ``toolvault mcp`` subprocess driven by the SDK's stdio client: search, context,
publish on a base_ref, lineage; the vault checked afterwards with the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from mcp import Client, StdioServerParameters

from mcp_helpers import PY, ok, refused, run
from toolvault.cli import cli


def tv(home: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--home", str(home), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_agent_over_stdio_searches_reads_improves_and_the_vault_holds(home: Path) -> None:
    source = home.parent / "csv-sum"
    source.write_text(PY)
    tv(home, "add", str(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLVAULT_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "toolvault", "--home", str(home), "mcp"],
        env=env,
    )

    async def body() -> dict[str, Any]:
        async with Client(params) as client:
            (found,) = (await ok(client, "search_tools", query="csv column"))["results"]
            context = await ok(client, "get_context", specs=[found["name"]])
            base = context["versions"][0]["ref"]
            assert base == found["ref"] and "Sum a column" in context["markdown"]
            improved = context["versions"][0]["content"] + "print('blank rows skipped')\n"
            made = await ok(
                client,
                "publish",
                name="csv-sum",
                content=improved,
                base_ref=base,
                references=[base],
                message="skip blank rows",
                prompt="make csv-sum skip blank rows",
            )
            stale = await refused(
                client, "publish", name="csv-sum", content="#!/bin/sh\n", base_ref=base
            )
            graph = await ok(client, "lineage", spec="csv-sum")
        return {"base": base, "made": made, "stale": stale, "graph": graph}

    got = run(body)
    assert got["stale"]["code"] == "stale_base"
    assert got["made"]["version"] == 2
    assert [e["to"] for e in got["graph"]["edges"]] == [got["base"]]
    shown = tv(home, "show", "csv-sum")
    assert shown["ref"] == got["made"]["ref"]
    assert (shown["message"], shown["references"]) == ("skip blank rows", [got["base"]])
    assert [v["version"] for v in tv(home, "versions", "csv-sum")] == [1, 2]
    assert tv(home, "verify")["ok"] is True
