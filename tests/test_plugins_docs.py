"""Keeps docs/plugins.md honest: every hook documented with its real arguments, and every
code example in it runs (the tutorial's package is written out, validated and tested)."""

import inspect
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from ganbench import hookspecs, plugins
from ganbench.suite import expand
from ganbench.testing import make_registry

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
FILE_MARK = re.compile(r"^# file: (\S+)\n")


def blocks(lang=None):
    """(language, code) of each fenced block of the guide, in order."""
    return [(m[1], m[2]) for m in BLOCK.finditer(GUIDE.read_text()) if lang in (None, m[1])]


def test_every_hook_is_documented_with_its_arguments():
    text = GUIDE.read_text()
    specs = {n: f for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "ganbench_spec")}
    assert set(specs) == set(plugins.KINDS.values())  # the guide's kinds are the hooks
    for name, fn in specs.items():
        args = ", ".join(inspect.signature(fn).parameters)
        assert f"### `{name}({args})`" in text, f"docs/plugins.md lacks a section for {name}({args})"


def test_guide_documents_the_settings_ganbench_reads():
    text = GUIDE.read_text()
    for setting in (plugins.ALLOW_ENV, plugins.TRACE_ENV, plugins.API_ATTRIBUTE, "PLUGIN_API_VERSION", "--no-plugins", "pytest11"):
        assert setting in text, setting


def test_inline_python_examples_run():
    namespace: dict = {}
    examples = [code for lang, code in blocks("python") if not FILE_MARK.match(code)]
    assert len(examples) >= 4
    for code in examples:
        exec(compile(code, str(GUIDE), "exec"), namespace)  # each may use the ones before


@pytest.fixture
def tutorial(tmp_path, monkeypatch):
    """The tutorial's files, written where its `# file:` lines say."""
    written = []
    for _, code in blocks():
        mark = FILE_MARK.match(code)
        if mark:
            path = tmp_path / mark[1]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code[mark.end() :])
            written.append(mark[1])
    root = tmp_path / "my-gan-plugin"
    monkeypatch.syspath_prepend(str(root / "src"))
    return root, written


def test_tutorial_package_is_complete_and_its_suite_validates(tutorial):
    root, written = tutorial
    assert {"pyproject.toml", "src/my_gan_plugin/plugin.py", "tests/test_plugin.py", "suites/hinge-ns.yaml"} <= {
        w.removeprefix("my-gan-plugin/") for w in written
    }
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    (module_path,) = project["entry-points"]["ganbench"].values()
    module = __import__(module_path, fromlist=["_"])
    registry = make_registry(module)  # raises with the reason if the tutorial's plugin is broken
    suite = expand(yaml.safe_load((root / "suites" / "hinge-ns.yaml").read_text()), registry)
    assert [r.config["loss"]["name"] for r in suite.runs] == ["hinge-ns", "hinge-ns", "hinge", "hinge", "vanilla", "vanilla"]


def test_tutorial_tests_pass_with_the_test_kit(tutorial):
    root, _ = tutorial
    code = pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", str(root), str(root / "tests")])
    assert code == 0
