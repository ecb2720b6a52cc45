"""Plugins are found through real entry points, the built-ins included; a plugin that
misspells a hook or takes another plugin's name is set aside, naming both."""

from __future__ import annotations

import types

from conftest import ganbench

from ganbench import hookimpl
from ganbench.builtin.losses import Hinge
from ganbench.plugins import add_plugin, build_registry, get_plugin_manager


def test_builtins_come_through_the_entry_point_group(registry):
    assert {"mlp", "dcgan"} <= set(registry.names("architecture"))
    assert {"vanilla", "lsgan", "wgan-gp", "hinge"} <= set(registry.names("loss"))
    assert {"mnist5k", "digits", "ring8", "grid25"} <= set(registry.names("dataset"))
    assert registry.get("loss", "vanilla").plugin == "ganbench:losses"
    assert registry.get("loss", "vanilla").dist == "ganbench"
    assert not registry.broken


def test_each_plugin_manager_is_fresh():
    """A plugin added to one manager (a test's, a --no-plugins run's) never leaks into the next."""
    pm = get_plugin_manager()
    extra = _module("extra", register_losses=lambda register: register("extra-loss", Hinge))
    add_plugin(pm, extra, "ganbench-extra:losses", "ganbench-extra", "0.1")
    assert "extra-loss" in build_registry(pm).names("loss")
    fresh = get_plugin_manager()
    assert "ganbench-extra:losses" not in dict(fresh.list_name_plugin())
    assert "extra-loss" not in build_registry(fresh).names("loss") and "vanilla" in build_registry(fresh).names("loss")
    assert get_plugin_manager(entry_points=False).list_name_plugin() == []


def _module(name, **hooks):
    mod = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(mod, hook, hookimpl(fn))
    return mod


def test_duplicate_name_names_both_plugins():
    pm = get_plugin_manager()
    copycat = _module("copycat", register_losses=lambda register: register("vanilla", Hinge))
    add_plugin(pm, copycat, "ganbench-copycat:losses", "ganbench-copycat", "0.1")
    reg = build_registry(pm)
    assert reg.broken["ganbench-copycat:losses"] == ("loss 'vanilla' is registered by both ganbench:losses and ganbench-copycat:losses")
    assert reg.get("loss", "vanilla").plugin == "ganbench:losses"  # the first one stays


def test_misspelled_hook_is_refused_loudly():
    pm = get_plugin_manager()
    typo = _module("typo", register_loses=lambda register: None)
    add_plugin(pm, typo, "ganbench-typo:plugin", "ganbench-typo", "0.1")
    assert "register_loses" in pm.broken["ganbench-typo:plugin"]
    assert "ganbench-typo:plugin" not in dict(pm.list_name_plugin())


def test_cli_lists_plugins_and_versions():
    out = ganbench("plugins")
    assert out.returncode == 0, out.stderr
    for word in ("ganbench", "losses", "vanilla", "wgan-gp", "dcgan", "mnist5k", "0.1.0"):
        assert word in out.stdout
    version = ganbench("--version")
    assert version.returncode == 0 and "ganbench, version" in version.stdout
