"""The text of the limits' Lua scripts (run by SHA through `llmedge.luascript.LuaScript`)."""

from __future__ import annotations

from importlib import resources

_PRELUDE = "token_bucket.lua"


def script_text(name: str) -> str:
    """`name` (a .lua file of this package) with the shared token-bucket functions prepended."""
    package = resources.files("llmedge.limits")
    return package.joinpath(_PRELUDE).read_text() + "\n" + package.joinpath(name).read_text()
