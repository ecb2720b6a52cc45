"""Reading suite files and `--set` values: YAML without the parts that make bad input costly.

PyYAML's SafeLoader cannot run code, but it still accepts input that is hostile or
mistaken in ways that cost gigabytes or hide errors. `load` refuses:

- aliases (`*name`): 30 nested anchors expand to gigabytes once a value is copied or
  printed (the "billion laughs"), and a suite has no use for them;
- duplicate keys, which YAML forbids and PyYAML lets the last one win silently;
- nesting deeper than MAX_DEPTH, before Python's recursion limit turns it into a
  RecursionError in the composer or in the code that walks the value;
- integers beyond 64 bits (Python refuses to read or print those with over 4,300 digits).

and it reads YAML 1.2 floats: PyYAML follows YAML 1.1, where `1e-3` (no dot) and `1.0e3`
(no sign after the `e`) are strings, so `lr: 1e-3` was refused as "not a number".
"""

from __future__ import annotations

import re

import yaml
from yaml.events import AliasEvent

MAX_DEPTH = 100  # levels of nesting; a real suite uses about 6


class UnsupportedYAML(yaml.MarkedYAMLError):
    """Valid YAML that suites refuse (an alias, a duplicate key, ...); the mark gives the line."""


class SuiteLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise UnsupportedYAML(
                None, None, f"YAML aliases (*{event.anchor[:40]}) are not supported in suite files: write the value out", event.start_mark
            )
        if self.depth >= MAX_DEPTH:
            raise UnsupportedYAML(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        first_line: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges; explicit keys win, by design
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                line = first_line.get(key)
            except TypeError:  # an unhashable key: the base class says so
                continue
            if line is not None:
                text = key if isinstance(key, str) else repr(key)
                raise UnsupportedYAML(None, None, f"duplicate key {text[:80]!r} (first on line {line})", key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # more than 4,300 digits
            value = None
        if value is None or abs(value) >= 2**64:
            raise UnsupportedYAML(None, None, "integer too large", node.start_mark)
        return value


SuiteLoader.add_constructor("tag:yaml.org,2002:int", SuiteLoader.construct_yaml_int)
# YAML 1.2 floats that YAML 1.1 reads as strings: an exponent without a dot (1e-3, 2E+5,
# .5e1) or without a sign (1.0e3). Checked after YAML 1.1's own float and int patterns.
SuiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+\Z"),
    list("-+.0123456789"),
)


def load(text: str):
    """Parse one YAML document with SuiteLoader; raises yaml.YAMLError (UnsupportedYAML for refusals)."""
    loader = SuiteLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
