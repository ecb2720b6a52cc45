"""Safe plugin loading, in process: real entry points of distributions written to tmp_path."""

import pytest
from plugin_helpers import BROKEN_REASONS, entry_points_in, write_all, write_dist

import ganbench
from ganbench.plugins import PluginError, build_registry, get_plugin_manager
from ganbench.suite import expand


@pytest.fixture(autouse=True)
def explicit_entry_points(monkeypatch):
    """Registries here are built from explicit entry points (entry_points_in), which pin
    the plugin set: GANBENCH_PLUGINS (conftest pins the built-ins) is what tests set."""
    for var in ("GANBENCH_PLUGINS", "GANBENCH_TRACE_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = write_all(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))  # the modules are importable, like installed ones
    return site


def registry_of(site, **kwargs):
    return build_registry(get_plugin_manager(found=entry_points_in(site), **kwargs))


def test_each_broken_plugin_is_set_aside_with_a_one_line_reason(site):
    reg = registry_of(site)
    assert set(reg.broken) == set(BROKEN_REASONS)
    for plugin_id, fragment in BROKEN_REASONS.items():
        assert fragment in reg.broken[plugin_id], (plugin_id, reg.broken[plugin_id])
        assert "\n" not in reg.broken[plugin_id]
    # the others still work: built-ins keep their names, the good plugin is loaded
    assert reg.get("loss", "vanilla").plugin == "ganbench:losses"
    assert reg.get("loss", "half-ls").dist == "fake-good"
    assert not any(name.endswith("-loss") for name in reg.names("loss"))


def test_run_json_lists_every_loaded_distribution_and_only_those(site):
    assert registry_of(site).distributions() == {"fake-good": "1.2.3", "ganbench": ganbench.__version__}


def test_unknown_name_explains_with_the_broken_plugins_reasons(site):
    reg = registry_of(site)
    with pytest.raises(PluginError, match=r"unknown loss 'raises-loss'.*fake-raises:raises: hook raised RuntimeError: no GPU found"):
        reg.get("loss", "raises-loss")


def test_suite_validation_refuses_what_a_broken_plugin_would_provide(site):
    reg = registry_of(site)
    ok = expand({"name": "ok", "base": {"loss": "half-ls", "dataset": "ring8", "architecture": "mlp"}}, reg)
    assert ok.runs[0].config["loss"] == {"name": "half-ls"}
    with pytest.raises(Exception, match="broken plugins: .*no GPU found") as e:
        expand({"name": "bad", "base": {"loss": "raises-loss"}}, reg)
    assert e.value.__class__.__name__ in ("ConfigError", "SuiteError")


def test_allow_list_loads_only_the_named_distributions_plus_builtins(site, monkeypatch):
    monkeypatch.setenv("GANBENCH_PLUGINS", " Fake_Good , fake-raises")  # names are normalized
    reg = registry_of(site)
    assert set(reg.distributions()) == {"ganbench", "fake-good"}
    assert set(reg.broken) == {"fake-raises:raises"}
    assert reg.skipped["fake-misspelled:misspelled"] == "not in GANBENCH_PLUGINS"
    with pytest.raises(PluginError, match=r"not loaded: .*fake-misspelled"):
        reg.get("loss", "misspelled-loss")


def test_no_plugins_means_builtins_only_even_with_an_allow_list(site, monkeypatch):
    monkeypatch.setenv("GANBENCH_PLUGINS", "fake-good")
    reg = registry_of(site, no_plugins=True)
    assert reg.distributions() == {"ganbench": ganbench.__version__}
    assert not reg.broken and "fake-good:good" in reg.skipped
    assert {"vanilla", "hinge", "wgan-gp", "lsgan"} <= set(reg.names("loss"))


def test_trace_prints_each_hook_call_and_registration(site, monkeypatch, capsys):
    monkeypatch.setenv("GANBENCH_TRACE_PLUGINS", "1")
    registry_of(site)
    err = capsys.readouterr().err
    assert "load fake-good:good = good_plugin (fake-good 1.2.3)" in err
    assert "call fake-good:good.register_losses(register)" in err
    assert "fake-good:good register_losses: register('half-ls', 'HalfLS')" in err
    assert "broken fake-raises:raises: hook raised RuntimeError" in err
    monkeypatch.delenv("GANBENCH_TRACE_PLUGINS")
    registry_of(site)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "declared, ok",
    [("1", True), ("'>=1,<3'", True), ("'==1.*'", True), ("2", False), ("'<1'", False), ("'one'", False), ("1.0", False)],
)
def test_plugin_api_declarations(tmp_path, monkeypatch, declared, ok):
    site = tmp_path / "site"
    module = f"api_plugin_{abs(hash(declared))}"  # a fresh module per case: imports are cached
    write_dist(site, "fake-api", "1.0", module, f"GANBENCH_PLUGIN_API = {declared}\n", "api")
    monkeypatch.syspath_prepend(str(site))
    reg = registry_of(site)
    assert ("fake-api:api" in reg.plugins) is ok
    if not ok:
        assert "GANBENCH_PLUGIN_API" in reg.broken["fake-api:api"] or "plugin API" in reg.broken["fake-api:api"]


def test_architecture_factory_must_take_data_and_z_dim(tmp_path, monkeypatch):
    code = (
        "from ganbench import hookimpl\n\n@hookimpl\ndef register_architectures(register):\n    register('no-args', lambda width=4: None)\n"
    )
    site = tmp_path / "site"
    write_dist(site, "fake-arch", "1.0", "arch_plugin", code)
    monkeypatch.syspath_prepend(str(site))
    reg = registry_of(site)
    assert "must take (data, z_dim, **options)" in reg.broken["fake-arch:arch_plugin"]


def test_a_plugin_registering_one_name_twice_is_broken(tmp_path, monkeypatch):
    code = "from ganbench import hookimpl\nfrom ganbench.contracts import Loss\n\n@hookimpl\ndef register_losses(register):\n    register('twice', Loss)\n    register('twice', Loss)\n"
    site = tmp_path / "site"
    write_dist(site, "fake-twice", "1.0", "twice_plugin", code)
    monkeypatch.syspath_prepend(str(site))
    reg = registry_of(site)
    assert "loss 'twice' is registered by both fake-twice:twice_plugin and fake-twice:twice_plugin" in reg.broken["fake-twice:twice_plugin"]
    assert "twice" not in reg.names("loss")


def test_hook_with_wrong_argument_names_is_broken_not_fatal(tmp_path, monkeypatch):
    code = "from ganbench import hookimpl\n\n@hookimpl\ndef register_losses(reg):\n    pass\n"
    site = tmp_path / "site"
    write_dist(site, "fake-args", "1.0", "args_plugin", code)
    monkeypatch.syspath_prepend(str(site))
    reg = registry_of(site)
    assert "register_losses(reg)" in reg.broken["fake-args:args_plugin"]
    assert "\n" not in reg.broken["fake-args:args_plugin"] and "vanilla" in reg.names("loss")
