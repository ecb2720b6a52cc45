"""The Python API: run suites, read results and sample generators from a notebook or script.

Everything the command line does, as functions that return objects and raise exceptions
(the CLI turns the same exceptions into one-line errors and exit statuses)::

    from ganbench import api

    suite = {
        "name": "lr-sweep",
        "base": {"dataset": "digits", "architecture": {"name": "dcgan", "ngf": 16, "ndf": 16},
                 "steps": 200, "eval": {"every": "none"}},
        "matrix": {"optimizer.lr": [1e-4, 2e-4]},
        "seeds": 2,
    }
    outcome = api.run_suite(suite, results="results", devices="cpu")  # or a YAML file's path
    outcome.counts                      # Counter({'complete': 4})
    runs, history, cells = api.load_results(outcome.folder)
    history.groupby(["label", "step"])["g_loss"].mean().unstack(0).plot()

    rep = api.report(outcome.folder)    # the `ganbench report` tables, as a Report
    print(api.render(rep, "md"))
    x = api.sample(runs.path[0], n=16, seed=0)   # (16, C, H, W), in [-1, 1]

`import ganbench.api` imports no torch (functions import it when they need it), and the
package root re-exports these functions lazily: ``ganbench.run_suite(...)`` works too,
except ``report``, whose name is the ``ganbench.report`` package's (use ``api.report``).

Errors: ``SuiteError`` (an invalid suite or override: the CLI's exit 2, one line naming
the key), ``SuiteInvalid`` (found before any run started: a missing data folder, an
impossible model), ``ExecutorError`` (the executor cannot start), ``ReportError``
(results that cannot be read or compared), ``ValueError`` (a bad ``devices``).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, NamedTuple

if TYPE_CHECKING:  # annotations only: importing this module must not import torch or pandas
    import pandas as pd
    import torch

    from .plugins import Registry
    from .report import Report
    from .suite import Suite

__all__ = [
    "Outcome",
    "Results",
    "load_generator",
    "load_results",
    "load_suite",
    "plugin_registry",
    "render",
    "report",
    "run_suite",
    "sample",
    "write_report",
]


# ---------------------------------------------------------------- suites


def plugin_registry(no_plugins: bool = False, plugins: Iterable[str] | None = None) -> Registry:
    """The plugin registry the CLI would use: the built-ins and the installed plugins.

    plugins: the distributions to load besides the built-ins (default: GANBENCH_PLUGINS,
    and when that is unset, every installed one); no_plugins: the built-ins only.
    Broken plugins are listed in ``.broken`` (name -> reason) and left out.
    """
    from .plugins import load_registry

    return load_registry(allow=plugins, no_plugins=no_plugins)


def load_suite(
    suite: str | Path | Mapping | Suite,
    overrides: Mapping | Iterable[str] | None = None,
    registry: Registry | None = None,
    *,
    profile: str = "auto",
    on_cpu: bool | None = None,
) -> Suite:
    """A suite expanded into validated runs, as `ganbench run SUITE --dry-run` shows it.

    suite: a YAML file's path, the same content as a dict, or an expanded Suite (returned
    as is). overrides: the `--set` layer, as a dict ({"optimizer.lr": 1e-3, "seeds": 1})
    or as "KEY=VALUE" strings (values are YAML). profile: one of the suite's `profiles`,
    "none" (the suite as written) or "auto" (`--profile`'s default: the `cpu` profile when
    the runs train on the CPU and the suite has one); on_cpu tells "auto" where the runs
    train (default: a torch-free guess, no CUDA driver visible means the CPU; `run_suite`
    tells it the devices it resolved). `.profile` says which was applied. Raises
    SuiteError, whose one-line message names the file (or ``<dict>``) and the key.

        >>> s = api.load_suite({"name": "t", "base": {"dataset": "ring8", "architecture": "mlp"}}, {"seeds": 3})
        >>> [(r.id, r.seed) for r in s.runs]   # doctest: +SKIP
        [('s0-1c2d...', 0), ('s1-...', 1), ('s2-...', 2)]
    """
    from .config import ConfigError, one_line
    from .suite import MAX_MESSAGE, Suite, SuiteError, expand, parse_override
    from .suite import load_suite as load_file

    if isinstance(suite, Suite):
        if overrides:
            raise ValueError("overrides apply to a suite file or dict, not to an expanded Suite")
        if profile not in ("auto", suite.profile or "none"):
            raise ValueError(f"profile {profile!r}: the Suite was expanded with profile {suite.profile or 'none'!r}; load it again")
        return suite
    registry = registry if registry is not None else plugin_registry()
    if isinstance(overrides, Mapping):
        texts, layer = [], list(overrides.items())
    else:
        texts, layer = list(overrides or ()), []
    if isinstance(suite, Mapping):
        try:
            pairs = [parse_override(t) for t in texts] + [(str(k), copy.deepcopy(v)) for k, v in layer]
            return expand(copy.deepcopy(dict(suite)), registry, pairs, "<dict>", profile, on_cpu)
        except ConfigError as e:
            raise SuiteError(one_line(f"<dict>: {e}", MAX_MESSAGE)) from None
    if layer:  # load_suite reads `--set` strings: write the dict's values as YAML flow text
        import json

        texts += [f"{k}={json.dumps(v)}" for k, v in layer]  # JSON is YAML
    return load_file(suite, registry, texts, profile, on_cpu)


@dataclass
class Outcome:
    """What `run_suite` did: runs trained now by status, and those it did not train."""

    suite: Suite  # the expanded runs (ids, resolved configs, seeds)
    folder: Path  # RESULTS/<suite name>: where the run folders are
    counts: Counter = field(default_factory=Counter)  # status -> runs trained by this call
    skipped: int = 0  # already finished (complete or diverged) before this call
    elsewhere: int = 0  # left to another ganbench training them (a live claim)
    kept: int = 0  # a rerun failed and the previous finished run was kept
    stopped: str | None = None  # why the suite stopped early, if it did
    exit_code: int = 0  # what `ganbench run` would exit with: 0, or 1 when some run failed

    def run_dirs(self) -> list[Path]:
        """The folders of this suite's runs that exist now (finished by this or an earlier call)."""
        return [self.folder / r.id for r in self.suite.runs if (self.folder / r.id / "run.json").is_file()]


def run_suite(
    suite: str | Path | Mapping | Suite,
    results: str | Path = "results",
    *,
    overrides: Mapping | Iterable[str] | None = None,
    devices: Any = "auto",
    rerun: bool | str = False,
    jobs: int = 1,
    executor: str | None = None,
    threads: int | None = None,
    address: str | None = None,
    loggers: Iterable[str] = (),
    timeout: float | None = None,
    executor_options: Mapping | None = None,
    registry: Registry | None = None,
    profile: str = "auto",
    quiet: bool = False,
    console=None,
) -> Outcome:
    """Train every run of `suite` not finished yet into `results`/<suite name>/ (`ganbench run`).

    suite: a YAML file's path, a dict, or a Suite from `load_suite`; overrides: the
    `--set` layer (a dict or "KEY=VALUE" strings). devices: "auto", "cpu", "cuda",
    "cuda:0,cuda:1", a torch.device or a list. executor: "local" (default for jobs=1,
    in this process), "process" (default otherwise, and with a timeout) or "ray".
    timeout: seconds after which a run is failed and its worker stopped. executor_options:
    the executor's own options (`--executor-option`, `--<executor>-<key>`), checked against
    those it declares (ganbench.executors.ExecutorOptions.extra). profile: one of
    the suite's `profiles`, "none", or "auto" (the `cpu` profile when `devices` are the CPU
    and the suite has one; recorded in each run.json). quiet: no progress display
    (console: a rich Console to show it on; default stderr). Finished runs are skipped
    unless rerun=True (all of them) or rerun names them ("RUN_ID", an id prefix, a glob
    like "*_s1-*", comma-separated), exactly as `--rerun [RUN_ID]` on the command line.

        >>> out = api.run_suite("suites/smoke.yaml", "results", overrides={"seeds": 1})   # doctest: +SKIP
        >>> out.counts, out.exit_code                                                        # doctest: +SKIP
        (Counter({'complete': 2}), 0)

    Ctrl-C (KeyboardInterrupt) stops the runs in progress, which leave no folder.
    """
    from rich.console import Console

    from .runner import run_suite as run

    registry = registry if registry is not None else plugin_registry()
    if isinstance(devices, str):
        from .build import resolve_devices

        devices = resolve_devices(devices)
    listed = devices if isinstance(devices, (list, tuple)) else [devices]
    on_cpu = all(getattr(d, "type", str(d).split(":")[0]) == "cpu" for d in listed)
    s = load_suite(suite, overrides, registry, profile=profile, on_cpu=on_cpu)
    console = console if console is not None else Console(stderr=True, quiet=quiet)
    results = Path(results)
    # a run that hangs inside a plugin can only be stopped from outside its process
    executor = executor or ("local" if jobs == 1 and not timeout else "process")
    out = run(
        s,
        registry,
        results,
        devices,
        rerun=rerun,
        console=console,
        executor=executor,
        jobs=jobs,
        threads=threads,
        address=address,
        loggers=list(loggers),
        timeout=timeout,
        executor_options=dict(executor_options or {}),
    )
    return Outcome(s, results / s.name, out.counts, out.skipped, out.elsewhere, out.kept, out.stopped, out.exit_code)


# ---------------------------------------------------------------- results


class Results(NamedTuple):
    """`load_results`' frames: ``runs, history, cells = api.load_results("results")``."""

    runs: pd.DataFrame  # one row per run: id, suite, status, seed, cell, label, axis:<axis>, path, metrics...
    history: pd.DataFrame  # every run's history.csv rows, with suite, id, cell, label and seed columns
    cells: pd.DataFrame  # one row per cell (config without the seed): mean, std, CI over seeds


def load_results(folder: str | Path = "results", **options) -> Results:
    """The runs under `folder` (a results root or one suite's folder) as pandas frames.

    `runs` is the report's per-run frame (docs/report.md lists its columns; `label`
    names a run's cell by its varying settings), `history` stacks the runs' histories
    (one row per log interval) with the columns that join them to `runs`, `cells`
    aggregates seeds. options: those of `report` (at, metrics, ci, split_protocols...).

        >>> runs, history, cells = api.load_results("results/smoke")   # doctest: +SKIP
        >>> history.pivot_table(index="step", columns="label", values="d_loss")   # doctest: +SKIP
    """
    import pandas as pd

    rep = report(folder, **options)
    keys = [c for c in ("suite", "id", "cell", "label", "seed") if c in rep.frame.columns]
    parts = []
    for run in rep.runs:
        h = run.history()
        if len(h):
            h = h.copy()
            h.insert(0, "id", run.id)
            h.insert(0, "suite", run.record["suite"])
            parts.append(h)
    history = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["suite", "id", "step"])
    history = history.merge(rep.frame[keys], on=["suite", "id"], how="left")
    history = history[keys + [c for c in history.columns if c not in keys]]
    return Results(rep.frame, history, rep.cells)


def report(folder: str | Path = "results", registry: Registry | None = None, **options) -> Report:
    """The comparison `ganbench report` prints, as a Report object (no files written).

    options: at ("epoch=N" or "step=N"), compare_axes, sort ("fid_domain:lower"),
    metrics (a list), ci ("t" or "bootstrap"), test ("welch" or "mwu"), split_protocols,
    directions ({metric: "lower"|"higher"}), reference, aggregate; `registry`: the plugins
    whose metrics' directions and ranges the tables use, and that build and score the
    reference data of the last two (default: plugin_registry(), the CLI's).
    ``.cells`` is the per-cell table, ``.frame`` the per-run one, ``.comparisons`` the
    pairwise tests. `render` and `write_report` turn it into text or files. Raises ReportError.

        >>> rep = api.report("results/optimizers", sort="fid_domain")   # doctest: +SKIP
        >>> rep.cells[["label", "fid_domain.mean", "fid_domain.ci_low", "fid_domain.ci_high"]]   # doctest: +SKIP
    """
    from .report import build_report

    registry = registry if registry is not None else plugin_registry()
    return build_report(folder, registry=registry, **options)


def render(report: Report, fmt: str = "md", plots: bool = False, models: bool = True) -> str:
    """A report as text: "md", "csv" (per cell), "json" or "html" (a self-contained page,
    with its plots when plots=True; models=False skips plots that rebuild generators).

        >>> from IPython.display import HTML, Markdown                   # doctest: +SKIP
        >>> Markdown(api.render(api.report("results/smoke")))            # doctest: +SKIP
    """
    from .report.load import ReportError
    from .report.output import FORMATS, figures
    from .report.output import render as render_text

    if fmt not in FORMATS:
        raise ReportError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    figs, warnings = figures(report, plots and fmt == "html", models)
    return render_text(report, fmt, figs, warnings)


def write_report(report: Report, output: str | Path, fmt: str | None = None, plots: bool = True, models: bool = True) -> list[Path]:
    """Write a report as `ganbench report --output` does: a .md/.csv/.html/.json file, or a
    folder that gets every format (Markdown with its PNG plots, CSVs, JSON, HTML).
    Returns the files written."""
    from .report.output import write

    written, _ = write(report, Path(output), fmt, plots=plots, models=models)
    return written


# ---------------------------------------------------------------- generators


def load_generator(run_dir: str | Path, device: Any = "cpu") -> torch.nn.Module:
    """A finished run's generator, rebuilt from its run.json through the plugins and loaded
    with its G.pt, in eval mode (BatchNorm's running statistics, as in the sample grids).

    The module maps (B, z_dim) noise to (B, *shape) samples; its ``z_dim`` attribute is
    the run's. torch's global random state is left as it was. Raises ReportError (not a
    run folder, no G.pt, a plugin that is missing).

        >>> G = api.load_generator("results/smoke/dcgan_s0-1a2b3c4d")   # doctest: +SKIP
        >>> G(torch.randn(8, G.z_dim)).shape                             # doctest: +SKIP
        torch.Size([8, 1, 28, 28])
    """
    import torch

    from .report.traverse import LoadedRun

    with torch.random.fork_rng(devices=[]):  # building the model draws initial weights G.pt replaces
        run = LoadedRun(run_dir)
    G = run.G.to(torch.device(device)).eval()
    G.z_dim = run.z_dim
    return G


def sample(run: str | Path | torch.nn.Module, n: int = 64, seed: int = 0, z_dim: int | None = None) -> torch.Tensor:
    """n samples (n, *shape) on the CPU from a run folder's generator or a generator module,
    from the noise ``torch.randn(n, z_dim)`` drawn with a generator seeded by `seed`: the
    same seed gives the same samples, and torch's global random state is left alone.
    Images are in [-1, 1]. z_dim: for a module without a ``z_dim`` attribute.

        >>> x = api.sample("results/smoke/dcgan_s0-1a2b3c4d", n=16, seed=1)   # doctest: +SKIP
        >>> torchvision.utils.save_image(x, "samples.png", normalize=True, value_range=(-1, 1))   # doctest: +SKIP
    """
    import torch

    from .sampling import sample as draw

    G = run if isinstance(run, torch.nn.Module) else load_generator(run)
    z_dim = z_dim if z_dim is not None else getattr(G, "z_dim", None)
    if not isinstance(z_dim, int) or z_dim < 1:
        raise ValueError("sample: this generator has no z_dim attribute; pass z_dim=")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"sample: n must be a positive integer, got {n!r}")
    device = next((p.device for p in G.parameters()), torch.device("cpu"))
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    return draw(G, z).cpu()
