"""Keeps the README's documented defaults true.

The README's suite example says each `base` value it shows is the default unless its
comment says "example" (it once showed `lr_decay: 0.9` as a default of 1.0). Each value
not marked so must leave a run's resolved config as ganbench's DEFAULTS do, and the
whole example must be a valid suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganbench import yamlsafe
from ganbench.config import DEFAULTS, resolve
from ganbench.suite import expand

README = Path(__file__).resolve().parents[1] / "README.md"
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def suite_block() -> str:
    blocks = [b for b in YAML_BLOCK.findall(README.read_text()) if re.search(r"^base:", b, re.M)]
    assert len(blocks) == 1, "the README should hold one suite example with a `base:`"
    return blocks[0]


def marked_examples(block: str) -> set[str]:
    """The `base` keys whose own line's comment says "example"."""
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("base:"))
    base_lines = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith(" "):  # the next top-level key: base is over
            break
        base_lines.append(line)
    return {m[1] for line in base_lines if (m := re.match(r"  (\w+):[^#]*#.*\bexample\b", line))}


def test_the_readme_says_how_its_defaults_are_marked():
    block = suite_block()
    assert "each value shown is" in block and 'the default, unless its comment says "example"' in block


def test_every_base_value_not_marked_as_an_example_is_the_default(registry):
    block = suite_block()
    base = yamlsafe.load(block)["base"]
    examples = marked_examples(block)
    assert examples <= set(base), examples
    assert set(base) - examples, "no default shown at all"
    assert set(base) <= set(DEFAULTS) | {"steps"}, set(base) - set(DEFAULTS)
    default = resolve([], registry)
    wrong = {}
    for key, value in base.items():
        if key in examples:
            continue
        resolved = resolve([("base", {key: value})], registry)  # as the README's value sets it
        if resolved != default:
            wrong[key] = (value, DEFAULTS.get(key))
    assert not wrong, f"README base values shown as defaults that are not (README, DEFAULTS): {wrong}"


def test_the_readme_suite_is_valid(registry):
    suite = expand(yamlsafe.load(suite_block()), registry)
    assert len(suite.runs) == 2 * 3 * 3  # optimizer x lr_ratio x seeds


@pytest.mark.parametrize("key", ["checkpoint_every", "channels_last", "fused_optimizers", "tf32", "pack", "cuda_graphs"])
def test_defaults_named_in_the_prose(key):
    assert f"`{key}` (default `{DEFAULTS[key]}`" in README.read_text()
