"""The Lua loader: every file is a script or an include, every script has its header."""

import re

import fakeredis
import pytest

from src.queue import scripts


def test_every_lua_file_is_loaded_and_includes_resolve():
    loaded = scripts.load_all()
    files = {p.stem for p in scripts.LUA_DIR.glob("*.lua") if not p.stem.startswith("_")}
    assert set(loaded) == files
    for s in loaded.values():
        assert "@include" not in s.source


@pytest.mark.parametrize("name", sorted(scripts.load_all()))
def test_every_script_documents_its_keys_args_and_output(name):
    text = (scripts.LUA_DIR / f"{name}.lua").read_text()
    assert text.startswith("--[[")
    for section in ("Input:", "Output:"):
        assert section in text, f"{name}.lua lacks {section}"
    used = set(re.findall(r"KEYS\[(\d+)\]", text.split("]]", 1)[1]))
    documented = set(re.findall(r"KEYS\[(\d+)\]", text.split("]]", 1)[0]))
    assert used <= documented or "KEYS[2..]" in text


def test_circular_include_is_refused(tmp_path, monkeypatch):
    (tmp_path / "a.lua").write_text('--- @include "b"\n')
    (tmp_path / "b.lua").write_text('--- @include "a"\n')
    monkeypatch.setattr(scripts, "LUA_DIR", tmp_path)
    with pytest.raises(ValueError, match="circular"):
        scripts._resolve("a")


async def test_scripts_reload_after_script_flush():
    r = fakeredis.FakeAsyncRedis()
    await r.script_flush()
    got = await scripts.run(r, "claim", ["{t}:processing:w", "{t}:queue:q"], [5])
    assert got == []
    await r.rpush("{t}:queue:q", "a", "b")
    await r.script_flush()
    res = await scripts.run_many(r, [("claim", ["{t}:processing:w", "{t}:queue:q"], [1])] * 3)
    assert sorted(x[0] for x in res if x) == [b"a", b"b"] and res[-1] == []
