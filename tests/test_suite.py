"""Suite expansion: cross product, include/exclude, overrides, seeds, run ids, merging."""

from __future__ import annotations

import pytest
from conftest import TINY_BASE

from ganbench.config import DEFAULTS, ConfigError, merge
from ganbench.suite import expand, expand_matrix, parse_override


def suite(**keys):
    return {"name": "t", "base": dict(TINY_BASE), **keys}


def test_cross_product_and_seed_count(registry):
    s = expand(suite(matrix={"lr_ratio": [0.5, 1, 2], "n_disc": [1, 2]}, seeds=3), registry)
    assert len(s.runs) == 3 * 2 * 3
    cells = {(r.config["lr_ratio"], r.config["n_disc"]) for r in s.runs}
    assert cells == {(a, b) for a in (0.5, 1.0, 2.0) for b in (1, 2)}
    assert sorted({r.seed for r in s.runs}) == [0, 1, 2]


def test_seed_list_and_bad_seeds(registry):
    s = expand(suite(seeds=[3, 7]), registry)
    assert [r.seed for r in s.runs] == [3, 7]
    for bad in (0, [1, 1], [-1], "x", [True]):
        with pytest.raises(ConfigError, match="seeds"):
            expand(suite(seeds=bad), registry)


def test_exclude_removes_matching_combinations():
    cells = expand_matrix({"a": [1, 2], "b": ["x", "y"]}, [{"a": 1, "b": "y"}], [])
    assert [c for _, c in cells] == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_include_extends_or_adds_like_github_actions():
    # GitHub's documented example: include extends matching combos, a non-matching one is new.
    matrix = {"fruit": ["apple", "pear"], "animal": ["cat", "dog"]}
    include = [
        {"color": "green"},  # extends all four
        {"color": "pink", "animal": "cat"},  # overwrites color where animal == cat
        {"fruit": "apple", "shape": "circle"},  # adds shape to the apples
        {"fruit": "banana"},  # matches no original value: a new combination
        {"fruit": "banana", "animal": "cat"},  # a new one too (banana is not an original)
    ]
    cells = [c for _, c in expand_matrix(matrix, [], include)]
    assert cells == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_exclude_matches_mapping_values_partially():
    matrix = {"optimizer": [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 1e-3}], "n_disc": [1, 2]}
    cells = expand_matrix(matrix, [{"optimizer": {"name": "sgd"}, "n_disc": 2}], [])
    assert len(cells) == 3
    assert {"optimizer": {"name": "sgd", "lr": 0.1}, "n_disc": 2} not in [c for _, c in cells]


def test_matrix_mappings_merge_into_base_unless_they_switch_name(registry):
    base = {**TINY_BASE, "optimizer": {"name": "adam", "lr": 2e-4, "betas": [0.5, 0.999]}}
    raw = {"name": "t", "base": base, "matrix": {"optimizer": [{"lr": 1e-3}, {"name": "sgd", "lr": 0.01}]}}
    a, b = (r.config["optimizer"] for r in expand(raw, registry).runs)
    assert a == {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}  # merged: Adam keeps its betas
    assert b == {"name": "sgd", "lr": 0.01}  # replaced: SGD does not inherit betas


def test_dotted_matrix_axis_and_overrides(registry):
    raw = suite(matrix={"optimizer.lr": [1e-4, 1e-3]})
    runs = expand(raw, registry, [parse_override("batch_size=16"), parse_override("optimizer.betas=[0.0, 0.9]")]).runs
    assert [r.config["optimizer"]["lr"] for r in runs] == [1e-4, 1e-3]
    assert all(r.config["batch_size"] == 16 and r.config["optimizer"]["betas"] == [0.0, 0.9] for r in runs)


def test_setting_epochs_clears_steps_and_back():
    assert "steps" not in merge({"steps": 5}, {"epochs": 2})
    assert "epochs" not in merge(DEFAULTS, {"steps": 9})


def test_override_value_is_yaml():
    assert parse_override("epochs=1") == ("epochs", 1)
    assert parse_override("optimizer={name: sgd, lr: 0.1}") == ("optimizer", {"name": "sgd", "lr": 0.1})
    with pytest.raises(ConfigError):
        parse_override("epochs")


def test_run_ids_are_stable_distinct_and_readable(registry):
    raw = suite(matrix={"loss": ["vanilla", "hinge"]}, seeds=2)
    first = [r.id for r in expand(raw, registry).runs]
    again = [r.id for r in expand(raw, registry).runs]
    assert first == again and len(set(first)) == 4
    assert first[0].startswith("vanilla_s0-") and first[3].startswith("hinge_s1-")
    changed = [r.id for r in expand(raw, registry, [("steps", 7)]).runs]
    assert set(changed).isdisjoint(first)  # another resolved config, another id


def test_equivalent_numbers_give_the_same_id(registry):
    a = expand(suite(base={**TINY_BASE, "lr_ratio": 1}), registry).runs[0].id
    b = expand(suite(base={**TINY_BASE, "lr_ratio": 1.0}), registry).runs[0].id
    assert a == b


def test_loss_defaults_apply_only_where_the_suite_is_silent(registry):
    cfg = expand(suite(base={**TINY_BASE, "loss": "wgan-gp"}), registry).runs[0].config
    assert cfg["n_disc"] == 5 and cfg["optimizer"] == {"name": "adam", "lr": 1e-4, "betas": [0.0, 0.9]}
    assert cfg["architecture"]["d_norm"] == "layer"  # the critic gets no BatchNorm
    cfg = expand(suite(base={**TINY_BASE, "loss": "wgan-gp", "n_disc": 2}), registry).runs[0].config
    assert cfg["n_disc"] == 2


def test_set_on_a_matrix_axis_collapses_it_to_one_cell_named_by_its_value(registry):
    # `--set lr_ratio=4` over `lr_ratio: [0.5, 1, 2]` once trained three identical runs named
    # lr_ratio0.5/1/2 whose config said 4, and the report counted them as three seeds.
    s = expand(suite(matrix={"lr_ratio": [0.5, 1, 2], "n_disc": [1, 2]}), registry, [("lr_ratio", 4)])
    assert len(s.runs) == 2  # one per n_disc: the lr_ratio axis is one value now
    for r in s.runs:
        assert r.cell["lr_ratio"] == 4 == r.config["lr_ratio"]
        assert r.id.startswith("lr_ratio4_")
    assert any("--set lr_ratio=4 overrides the matrix axis lr_ratio" in n for n in s.notes)
    # a --set mapping over a dotted axis: the cell says what the run trains with
    s = expand(suite(matrix={"optimizer.lr": [1e-3, 1e-4]}), registry, [("optimizer", {"name": "sgd", "lr": 0.01})])
    assert [(r.cell, r.config["optimizer"]["lr"]) for r in s.runs] == [({"optimizer.lr": 0.01}, 0.01)]
    # an axis --set does not touch keeps its cells, and their ids
    plain = [r.id for r in expand(suite(matrix={"n_disc": [1, 2]}), registry).runs]
    assert [r.id for r in expand(suite(matrix={"n_disc": [1, 2]}), registry, [("lr_ratio", 4)]).runs] != plain
    assert [r.cell for r in expand(suite(matrix={"n_disc": [1, 2]}), registry, [("lr_ratio", 4)]).runs] == [{"n_disc": 1}, {"n_disc": 2}]


def test_cells_that_resolve_to_one_config_are_one_run(registry):
    s = expand(suite(matrix={"lr_ratio": [1, 1.0, 2]}, seeds=2), registry)
    assert [(r.config["lr_ratio"], r.seed) for r in s.runs] == [(1.0, 0), (1.0, 1), (2.0, 0), (2.0, 1)]
    assert len(s.notes) == 1 and "trains exactly what lr_ratio1 trains" in s.notes[0]
