"""Suite profiles: the shipped suites are written at the articles' scale, and each has a
`cpu` profile reproducing the committed CPU results exactly.

`ganbench run SUITE --profile NAME` merges the profile's `base` over the suite's (below
the matrix cell and --set) and lets its matrix, include, exclude and seeds replace the
suite's; `--profile auto` (the default) takes `cpu` when the runs train on the CPU. The
profile is not part of a run's id (the resolved config is), so the committed runs must
come out of `--profile cpu` with exactly their committed ids: that is what keeps them
findable (skipped by `ganbench run`, compared by `ganbench report`).
"""

from __future__ import annotations

import csv
import json
import subprocess

import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO, TINY_BASE

from ganbench import api, yamlsafe
from ganbench.cli import main
from ganbench.suite import SuiteError, choose_profile, load_suite

SUITES = sorted((REPO / "suites").glob("*.yaml"))


def suite_name(path) -> str:
    return yamlsafe.load(path.read_text())["name"]


def _tracked_run_jsons() -> set[str]:
    """results/<suite>/<id>/run.json files committed to git: what a user ran into results/
    (command 1 of the README writes results/smoke/) is not the repository's results."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", "results/*/*/run.json"], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    return {p for p in out.stdout.split("\0") if p}


TRACKED = _tracked_run_jsons()


def committed_ids(name: str) -> set[str]:
    """The committed runs of a suite: results/<suite>/<id>/run.json in git (and, when written,
    docs/results/<suite>/runs.csv must list the same runs)."""
    ids = {p.split("/")[2] for p in TRACKED if p.split("/")[1] == name}
    table = REPO / "docs" / "results" / name / "runs.csv"
    if table.is_file():
        with table.open(newline="") as f:
            assert {row["id"] for row in csv.DictReader(f)} == ids, f"{table} and results/{name}/ list different runs"
    return ids


COMMITTED = [p for p in SUITES if committed_ids(suite_name(p))]


@pytest.fixture
def donors(tmp_path, monkeypatch, registry):
    """A working directory where every profile's d-donor run has a D.pt, as after
    `ganbench run suites/d-donor.yaml --profile P`: pretraining.yaml's `from_run` paths
    are relative and checked when the suite loads (weights are not committed)."""
    monkeypatch.chdir(tmp_path)
    donor = REPO / "suites" / "d-donor.yaml"
    for profile in ("none", *yamlsafe.load(donor.read_text()).get("profiles", {})):
        for run in load_suite(donor, registry, profile=profile).runs:
            folder = tmp_path / "results" / "d-donor" / run.id
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "D.pt").write_bytes(b"")
    return tmp_path


# ---------------------------------------------------------------- the shipped suites


def test_every_suite_with_committed_results_is_covered():
    if not TRACKED:
        pytest.skip("the committed results are known from git: not a git checkout")
    names = {suite_name(p) for p in COMMITTED}
    with_results = {p.split("/")[1] for p in TRACKED}
    assert with_results <= names, f"committed results without a shipped suite: {sorted(with_results - names)}"
    assert {"optimizers", "pretraining", "d-donor", "lr_ratio", "losses", "mode_collapse", "tabular"} <= names


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_the_cpu_profile_gives_exactly_the_committed_run_ids(path, registry, donors):
    suite = load_suite(path, registry, profile="cpu")
    assert suite.profile == "cpu"
    assert {r.id for r in suite.runs} == committed_ids(suite.name)
    assert len(suite.runs) == len(committed_ids(suite.name))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_the_article_scale_is_the_suites_base_and_new_runs(path, registry, donors):
    """`--profile none` is the suite as written: the articles' scale, none of the CPU runs."""
    suite = load_suite(path, registry, profile="none")
    assert suite.profile == "none" and suite.runs
    assert not {r.id for r in suite.runs} & committed_ids(suite.name)
    for run in suite.runs:
        cfg = run.config
        assert cfg["g_step_fresh_fake"] is False  # the faster default, at the article's scale
        if cfg["dataset"]["name"] == "fashion-mnist" and cfg["architecture"]["name"] == "dcgan":
            assert cfg["architecture"]["ngf"] == cfg["architecture"]["ndf"] == 64  # reference width
            assert cfg["eval"]["samples"] in (None, 10_000)  # None: the 10,000-image default
            assert cfg["eval"]["every"] != "none" or suite.name == "d-donor"


def test_the_article_scale_answers_at_10_and_50_epochs(registry, donors):
    """The MP-GAN articles compare at epoch 10 and 50: one 50-epoch run scored at both with
    10,000 samples (the curve point at epoch 10 is an answer too)."""
    for name in ("optimizers", "pretraining"):
        suite = load_suite(REPO / "suites" / f"{name}.yaml", registry, profile="none")
        for run in suite.runs:
            assert run.config["epochs"] == 50 and run.config["eval"]["every"] == "10 epochs"
            assert run.config["eval"]["curve_samples"] == 10_000
            assert run.config["dataset"] == {"name": "fashion-mnist"}


@pytest.mark.parametrize("profile", ["none", "cpu"])
def test_pretraining_loads_the_d_donor_of_its_own_profile(profile, registry, donors):
    donor = load_suite(REPO / "suites" / "d-donor.yaml", registry, profile=profile).runs
    suite = load_suite(REPO / "suites" / "pretraining.yaml", registry, profile=profile)
    paths = {r.config["d_pretrain"]["from_run"] for r in suite.runs if "from_run" in (r.config["d_pretrain"] or {})}
    assert paths == {f"results/d-donor/{r.id}" for r in donor}
    # the suite's architecture and data are the donor's: its D.pt must load into them
    for key in ("dataset", "architecture", "z_dim"):
        assert {json.dumps(r.config[key]) for r in suite.runs} == {json.dumps(donor[0].config[key])}


def test_every_shipped_suite_validates_under_each_of_its_profiles(registry, donors):
    for path in SUITES:
        raw = yamlsafe.load(path.read_text())
        if raw["name"] == "plugin-sngan":
            continue  # needs the example plugin package (plugins/ganbench-sngan) installed
        for profile in ("none", *raw.get("profiles", {})):
            assert load_suite(path, registry, profile=profile).runs


# ---------------------------------------------------------------- choosing a profile


PROFILED = {
    "name": "p",
    "base": {**TINY_BASE, "steps": 50},
    "matrix": {"optimizer.lr": [1e-4, 2e-4]},
    "seeds": 2,
    "profiles": {"cpu": {"base": {"steps": 5, "z_dim": 4}}, "tiny": {"base": {"steps": 2}, "seeds": 1, "matrix": {"optimizer.lr": [3e-4]}}},
}


def test_auto_takes_cpu_on_the_cpu_and_the_suite_as_written_on_a_gpu(registry):
    on_cpu = api.load_suite(PROFILED, registry=registry, profile="auto", on_cpu=True)
    on_gpu = api.load_suite(PROFILED, registry=registry, profile="auto", on_cpu=False)
    assert (on_cpu.profile, on_gpu.profile) == ("cpu", "none")
    assert {r.config["steps"] for r in on_cpu.runs} == {5} and {r.config["steps"] for r in on_gpu.runs} == {50}
    assert "the CPU" in on_cpu.profile_why and "a GPU" in on_gpu.profile_why
    assert (on_cpu.auto_on_cpu, on_gpu.auto_on_cpu) == (True, False)
    plain = {k: v for k, v in PROFILED.items() if k != "profiles"}
    assert api.load_suite(plain, registry=registry, on_cpu=True).profile is None  # nothing to choose
    no_cpu = {**PROFILED, "profiles": {"tiny": PROFILED["profiles"]["tiny"]}}
    assert api.load_suite(no_cpu, registry=registry, on_cpu=True).profile == "none"
    asked = []
    choose_profile("auto", ["tiny"], lambda: asked.append(1) or True)
    assert not asked  # the device is asked only when there is a cpu profile to choose


def test_a_profile_is_a_layer_between_base_and_the_matrix_cell_and_set(registry):
    suite = {**PROFILED, "profiles": {"cpu": {"base": {"steps": 5, "optimizer": {"lr": 9e-4, "betas": [0.0, 0.9]}}}}}
    s = api.load_suite(suite, {"z_dim": 3}, registry=registry, profile="cpu")
    assert {r.config["optimizer"]["lr"] for r in s.runs} == {1e-4, 2e-4}  # the matrix cell wins over the profile
    assert {tuple(r.config["optimizer"]["betas"]) for r in s.runs} == {(0.0, 0.9)}  # the profile over base
    assert {r.config["z_dim"] for r in s.runs} == {3}  # --set wins over everything


def test_a_profile_replaces_the_matrix_and_seeds_and_set_seeds_still_wins(registry):
    s = api.load_suite(PROFILED, registry=registry, profile="tiny")
    assert [(r.config["optimizer"]["lr"], r.seed, r.config["steps"]) for r in s.runs] == [(3e-4, 0, 2)]
    s = api.load_suite(PROFILED, {"seeds": 3}, registry=registry, profile="tiny")
    assert [r.seed for r in s.runs] == [0, 1, 2]


def test_the_profile_is_not_part_of_the_run_id(registry):
    """A run's id is its resolved config's: the same config written out in full, with no
    profile, has the same id (and so `ganbench run` skips it either way)."""
    with_profile = api.load_suite(PROFILED, registry=registry, profile="cpu")
    written_out = {**PROFILED, "base": {**PROFILED["base"], "steps": 5, "z_dim": 4}}
    del written_out["profiles"]
    assert [r.id for r in with_profile.runs] == [r.id for r in api.load_suite(written_out, registry=registry).runs]


# ---------------------------------------------------------------- errors


def errors(suite, registry, profile="none") -> str:
    with pytest.raises(SuiteError) as e:
        api.load_suite(suite, registry=registry, profile=profile)
    return str(e.value)


def test_an_unknown_profile_is_refused_with_the_suites_profiles(registry):
    message = errors(PROFILED, registry, "cpx")
    assert message == "<dict>: --profile cpx: unknown profile (did you mean 'cpu'?); the suite's profiles: cpu, tiny (and auto, none)"
    plain = {k: v for k, v in PROFILED.items() if k != "profiles"}
    assert "the suite declares no profiles" in errors(plain, registry, "cpu")


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"optimiser": {"name": "adam"}}, "unknown key (did you mean 'optimizer'?)"),
        ({"batch_size": 0}, "must be >= 1, got 0"),
        ({"lr_ratio": -1}, "must be > 0, got -1"),
        ({"architecture": {"ngf": "wide"}}, "must be an integer, got 'wide'"),
    ],
)
def test_a_bad_profile_setting_gets_the_error_base_gets(setting, message, registry):
    in_base = errors({**PROFILED, "base": {**PROFILED["base"], **setting}}, registry)
    in_profile = errors({**PROFILED, "profiles": {"cpu": {"base": setting}}}, registry, "cpu")
    key = next(iter(setting))
    assert message in in_base and message in in_profile
    where = in_base.index(": base.") + len(": base.")
    assert in_profile == in_base[:where].replace("base.", "profiles.cpu.base.") + in_base[where:], (in_base, in_profile)
    assert f"profiles.cpu.base.{key}" in in_profile


def test_an_unknown_key_in_a_profile_not_chosen_is_still_refused(registry):
    """A typo in the cpu profile is found on a GPU too, before any run."""
    suite = {**PROFILED, "profiles": {"cpu": {"base": {"epoch": 2}}}}
    assert "profiles.cpu.base.epoch: unknown key (did you mean 'epochs'?)" in errors(suite, registry, "none")


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"cpu": {"epochs": 2}}, "profiles.cpu.epochs: unknown profile key (run settings go under `base`)"),
        ({"cpu": {"bsae": {}}}, "profiles.cpu.bsae: unknown profile key (did you mean 'base'?)"),
        ({"auto": {"base": {"steps": 1}}}, "profiles.auto: 'auto' is reserved"),
        ({"none": {"base": {"steps": 1}}}, "profiles.none: 'none' is reserved"),
        ({"a b": {"base": {"steps": 1}}}, "profiles.a b: a profile's name must be letters"),
        ({"cpu": {"base": [1]}}, "profiles.cpu.base: must be a mapping"),
        ({"cpu": None}, "profiles.cpu: must be a mapping"),
        ([], "profiles: must be a mapping"),
    ],
)
def test_profiles_are_checked_for_shape(profiles, message, registry):
    assert message in errors({**PROFILED, "profiles": profiles}, registry)


def test_errors_in_a_profiles_matrix_name_the_profile(registry):
    suite = {**PROFILED, "profiles": {"cpu": {"include": [{"optimizer.lr": 0}]}}}
    assert "profiles.cpu.include[0].optimizer.lr: must be > 0" in errors(suite, registry, "cpu")
    suite = {**PROFILED, "profiles": {"cpu": {"exclude": [{"loss": "hinge"}]}}}
    assert "profiles.cpu.exclude[0].loss: is not a matrix axis" in errors(suite, registry, "cpu")
    suite = {**PROFILED, "profiles": {"cpu": {"seeds": 0}}}
    assert "profiles.cpu.seeds: must be >= 1" in errors(suite, registry, "cpu")


# ---------------------------------------------------------------- the command line


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env={"COLUMNS": "400"})


def test_unknown_profile_exits_2_in_one_line_and_writes_nothing(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PROFILED))
    for dry in ([], ["--dry-run"]):
        out = invoke("run", path, "--profile", "cpx", "--results", tmp_path / "results", *dry)
        assert out.exit_code == 2, out.output
        assert out.stderr.count("\n") == 1 and "did you mean 'cpu'?" in out.stderr and "profiles: cpu, tiny" in out.stderr
        assert not (tmp_path / "results").exists()


def test_dry_run_says_which_profile_and_why(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PROFILED))
    out = invoke("run", path, "--dry-run", "--devices", "cpu", "--results", tmp_path / "results")
    assert out.exit_code == 0, out.output
    assert out.stderr.strip() == "p: profile cpu (--profile auto: the runs train on the CPU; the suite's profiles: cpu, tiny)"
    assert "p: 4 runs, profile cpu" in out.stdout and "5 steps" in out.stdout
    out = invoke("run", path, "--dry-run", "--devices", "cuda", "--results", tmp_path / "results")
    assert "profile none, the suite as written (--profile auto: the runs train on a GPU" in out.stderr
    assert "50 steps" in out.stdout
    out = invoke("run", path, "--dry-run", "--profile", "tiny", "--results", tmp_path / "results")
    assert "profile tiny (--profile tiny;" in out.stderr and "p: 1 runs, profile tiny" in out.stdout


def test_dry_run_with_a_profile_imports_no_torch(tmp_path):
    from test_startup import HEAVY, imported

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(PROFILED))
    for args in (["--dry-run"], ["--dry-run", "--profile", "tiny"], ["--profile", "cpx"]):
        out, packages = imported("run", str(path), "--results", str(tmp_path / "results"), *args)
        assert out.returncode == (2 if "cpx" in args else 0), out.stderr[-2000:]
        assert not packages & set(HEAVY), f"imported {sorted(packages & set(HEAVY))}"


def test_runs_record_their_profile_and_status_and_report_read_both(tmp_path, registry):
    """Runs of two profiles side by side in one results folder: each run.json says which
    profile made it; `ganbench status` and the report read the folder as any other."""
    suite = {**PROFILED, "base": {**TINY_BASE, "steps": 4}, "matrix": {}, "seeds": 1}
    suite["profiles"] = {"cpu": {"base": {"steps": 2}}}
    cpu = api.run_suite(suite, tmp_path, devices="cpu", registry=registry, quiet=True)  # auto: cpu
    full = api.run_suite(suite, tmp_path, devices="cpu", profile="none", registry=registry, quiet=True)
    assert cpu.exit_code == full.exit_code == 0
    records = {json.loads((d / "run.json").read_text())["profile"]: d.name for d in (*cpu.run_dirs(), *full.run_dirs())}
    assert set(records) == {"cpu", "none"} and len(set(records.values())) == 2
    out = invoke("status", tmp_path, "--all")
    assert out.exit_code == 0, out.output
    assert all(run_id[:12] in out.output for run_id in records.values())
    rep = api.report(tmp_path / "p")
    assert len(rep.frame) == 2
    plain = {k: v for k, v in suite.items() if k != "profiles"}
    again = api.run_suite(plain, tmp_path, devices="cpu", registry=registry, quiet=True)
    assert again.skipped == 1 and not again.counts  # the same config: the same run, whatever profile made it


def test_a_run_asks_torch_where_dry_run_guessed(tmp_path, monkeypatch):
    """--dry-run guesses the device from the driver's files; `ganbench run` asks torch, and
    a wrong guess (a driver but no GPU torch can use) loads the suite again."""
    monkeypatch.setattr("ganbench.suite.profiles.cuda_visible", lambda: True)  # the guess: a GPU
    suite = {**PROFILED, "base": {**TINY_BASE, "steps": 4}, "matrix": {}, "seeds": 1}
    suite["profiles"] = {"cpu": {"base": {"steps": 2}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(suite))
    out = invoke("run", path, "--dry-run", "--results", tmp_path / "results")
    assert "profile none, the suite as written (--profile auto: the runs train on a GPU" in out.stderr
    monkeypatch.setattr("ganbench.build.resolve_devices", lambda spec: [__import__("torch").device("cpu")])
    out = invoke("run", path, "--results", tmp_path / "results")
    assert out.exit_code == 0, out.output
    assert "p: profile cpu (--profile auto: the runs train on the CPU" in out.stderr
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "results" / "p").glob("*/run.json")]
    assert record["profile"] == "cpu" and record["config"]["steps"] == 2
