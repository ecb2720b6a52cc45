"""Scoring runs: what the training loop calls at each eval interval and at the end.

``make_evaluator(cfg, data, device)`` builds an Evaluator; the loop calls
``evaluator(G, step) -> {metric: number}`` at ``eval.every`` and at the last step, whose
values become the run's final metrics. Intermediate evaluations use ``eval.curve_samples``
samples, the last one ``eval.samples``. The evaluator's ``protocol`` (a flat mapping) and
``notes`` (one-line strings) go into run.json beside the numbers.

What is measured: the built-in metric families that apply to the run's data (mode
coverage, domain and Inception fidelity for images; coverage of a 2-D mixture) and the
metric plugins the run's ``eval.metrics`` enables, all through the same contract
(``metrics.plugin``). The evaluator draws the samples (one fixed latent batch), prepares
what several metrics share (the real images, the mode classifier) and records protocols.

Throughput (d_step_ms, g_step_ms, peak_mem_mb) is measured by the loop with
``metrics.cost.StepTimer``; losses and train_img_per_s come from the loop itself.
"""

from __future__ import annotations

import math
import time

import torch

from .. import keys
from ..contracts import GanData
from ..sampling import sample
from ..schedule import total_steps
from . import classifier as clf
from . import fidelity
from . import plugin as metric_plugins

SAMPLES = {"image": 10_000, "points": 2_500}  # final eval: Lucic et al. use 10k; VEEGAN/PacGAN 2,500 points
CURVE_SAMPLES = {"image": 2_000, "points": 2_500}  # intermediate evals: a stable trend at a fifth of the cost
NOISE_SEED = 10_000  # + the run's seed: the same latent batch at every eval, so curves move only with G


class Evaluator:
    """Scores a generator on one run's dataset; see the module docstring."""

    def __init__(self, cfg: dict, data: GanData, device: torch.device, registry):
        ev = cfg["eval"]
        self.cfg, self.ev, self.data, self.device = cfg, ev, data, device
        self.kind = data.kind
        self.total_steps = total_steps(len(data.train), cfg)
        self.samples = ev["samples"] or SAMPLES.get(data.kind, 2_000)
        self.curve_samples = min(self.samples, ev["curve_samples"] or CURVE_SAMPLES.get(data.kind, 2_000))
        self.batch_size = ev["batch_size"]
        self.z_dim = cfg["z_dim"]
        self.noise_seed = NOISE_SEED + cfg["seed"]
        # Runs from before the option existed were all sampled in eval mode.
        self.g_mode = ev.get("g_mode", "eval")
        self.created = time.perf_counter()
        self._registry = registry
        self.eval_s = 0.0
        self.reached: tuple[float, int] | None = None  # (seconds, step) fid_domain first <= threshold
        self.notes: list[str] = []
        self.protocol: dict = {
            "samples": self.samples,
            "curve_samples": self.curve_samples,
            "batch_size": self.batch_size,
            "g_mode": self.g_mode,
        }
        self.classifier = self.real = self.real_hash = None
        if data.kind == "image":
            self._setup_images(cfg)
        self._setup_metrics(cfg, registry)

    # ------------------------------------------------------------ set-up

    def _setup_images(self, cfg: dict) -> None:
        """The real side and the mode classifier, shared by the image metrics (ctx.real, ctx.classifier)."""
        data, ev = self.data, self.ev
        name = cfg["dataset"]["name"]
        options = {k: v for k, v in cfg["dataset"].items() if k != "name"}
        if ev["real_samples"] == "test" and data.test is not None:
            self.real, split = data.test, "test"
        else:
            if ev["real_samples"] == "test":
                self.notes.append(f"dataset {name} has no test split: real statistics use training images")
            n = len(data.train) if ev["real_samples"] == "test" else min(ev["real_samples"], len(data.train))
            idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))[:n]
            self.real, split = data.train[idx], "train"
        # A fixed random order: prefixes (precision-recall's equal-size subsets) mix all classes.
        self.real = self.real[torch.randperm(len(self.real), generator=torch.Generator().manual_seed(1))]
        self.real_hash = clf.content_hash(self.real)
        self.protocol.update(real_split=split, real_samples=len(self.real), torch_fidelity=fidelity.torch_fidelity.__version__)
        if data.train_labels is None or not data.num_classes:
            return
        self.classifier = clf.get_classifier(name, options, data, self.device, ev["classifier_floor"])
        self.protocol.update(
            classifier_accuracy=round(self.classifier.accuracy, 4),
            classifier_non_data_rejected=round(self.classifier.non_data_rejected, 4),  # held-out non-data images it rejects
            classifier_floor=self.classifier.floor,
            classifier_cache=self.classifier.path.name,
            classifier_hash=self.classifier.hash,  # the feature space itself: pool runs only when equal
            domain_feature_dim=clf.FEATURE_DIM * (data.train.shape[1] if data.info.get("channel_classes") else 1),
        )
        if ev["fid_threshold"] is not None:
            self.protocol["fid_threshold"] = ev["fid_threshold"]

    def _setup_metrics(self, cfg: dict, registry) -> None:
        """The metrics this run measures: the built-in families that apply to its data and
        the plugins its eval.metrics enables; each one's set-up and protocol fields."""
        self.context = metric_plugins.Context(
            self.data,
            cfg["dataset"],
            self.device,
            cfg["seed"],
            True,
            self.samples,
            self.classifier,
            eval=self.ev,
            real=self.real,
            real_hash=self.real_hash,
            conditional=conditional_architecture(cfg, registry),
        )
        built, skipped = metric_plugins.make_metrics(self.ev.get("metrics") or {}, registry, self.kind)
        self.notes.extend(skipped)
        self.metrics: dict = {}
        self.failed: dict[str, str] = {}  # metric name -> why it failed (one line); its values are missing
        self.step: int | None = None  # the evaluation in progress (for failure reasons)
        for name, metric in built.items():
            try:
                why = metric.setup(self.context)
                fields = metric.protocol(self.context) if why is None else {}
            except Exception as e:  # a metric plugin's bug: the run trains and is scored without it
                if name in metric_plugins.BUILTIN_FAMILIES:
                    raise  # a requirement the run asked for (eval.inception: on without weights): refused before training
                self._fail(name, e, "in setup")
                continue
            if why is not None:
                if why not in self.notes:
                    self.notes.append(why)
                continue
            self.metrics[name] = metric
            # The families' fields predate the hook: recorded bare, as run.json always had them.
            prefix = "" if name in metric_plugins.BUILTIN_FAMILIES else f"{name}."
            for key, value in fields.items():
                if self.protocol.setdefault(prefix + key, value) != value:
                    raise ValueError(
                        f"metric {name!r} records protocol field {prefix + key!r} = {value!r}, another metric {self.protocol[prefix + key]!r}"
                    )
        if self.kind == "image":
            self.protocol["feature_spaces"] = ",".join(m.feature_space for m in self.metrics.values() if m.feature_space) or "none"
        if not self.metrics:
            self.notes.append(f"no sample-quality metric applies to this run's {self.kind} data: only cost is measured")
        self.notes.extend(n for n in self.context.notes if n not in self.notes)  # run.json keeps set-up notes

    def score(self, x: torch.Tensor, final: bool = True) -> dict:
        """{key: value} of every metric of this run on samples x (the data's native format).

        A metric that raises (or breaks the contract: an undeclared key, one another metric
        returns) fails alone: its reason goes to ``failed`` and the notes, it is not measured
        again in this run, and the run keeps its training and its other metrics, so that
        ``ganbench eval`` can score it once the plugin is fixed.
        """
        out: dict = {}
        for name, metric in self.metrics.items():
            if name in self.failed or (metric.final_only and not final):
                continue
            self.context.final = final
            try:
                values = metric(x, self.context)
                declared = metric.directions
                mine = {}
                for key, value in values.items():
                    if key not in declared:
                        raise ValueError(f"metric {name!r} returned {key!r}, which it does not declare in `directions`")
                    if key in out:
                        raise ValueError(f"metric {name!r} returned {key!r}, which another metric also returns")
                    mine[key] = value if isinstance(value, int) else float(value)  # counts stay integers
            except Exception as e:
                self._fail(name, e, f"at step {self.step}" if self.step is not None else "")
                continue
            out.update(mine)
        for note in self.context.notes:  # remarks made while scoring
            if note not in self.notes:
                self.notes.append(note)
        return out

    def _fail(self, name: str, e: Exception, when: str) -> None:
        text = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")[:300]
        self.failed[name] = f"{reason} ({when})" if when else reason
        self.notes.append(
            f"metric {name} failed {when + ' ' if when else ''}({reason}): its values are missing; `ganbench eval` scores it again"
        )

    def result_keys(self) -> set[str]:
        """Every key the run's metrics (those set up, failed ones included) may return."""
        keys_ = {k for m in self.metrics.values() for k in m.directions}
        registry = self._registry
        for name in self.failed:
            try:
                keys_ |= set(registry.get("metric", name).factory.directions)
            except Exception:
                pass
        return keys_

    # ------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict:
        """What a resumed run needs to go on measuring as if uninterrupted."""
        return {
            "eval_s": self.eval_s,
            "elapsed": time.perf_counter() - self.created,
            "reached": list(self.reached) if self.reached else None,
        }

    def load_state_dict(self, state: dict) -> None:
        self.eval_s = state["eval_s"]
        self.created = time.perf_counter() - state["elapsed"]
        self.reached = tuple(state["reached"]) if state["reached"] else None

    # ------------------------------------------------------------ one evaluation

    def __call__(self, G: torch.nn.Module, step: int, final: bool | None = None) -> dict:
        """final: the run's last evaluation (eval.samples samples); by default, whether
        `step` is the run's last (a time budget ends a run earlier: the loop says so)."""
        t0 = time.perf_counter()
        final = step >= self.total_steps if final is None else final
        n = self.samples if final else self.curve_samples
        # torch-fidelity's DataLoader draws from the global RNG: fork it, so evaluating
        # never changes the training run's random stream.
        devices = (
            [self.device.index if self.device.index is not None else torch.cuda.current_device()] if self.device.type == "cuda" else []
        )
        with torch.random.fork_rng(devices=devices):
            x, self.context.labels = self._generate(G, n)
            self.step = step
            out = self.score(x, final)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        fid = out.get(keys.FID_DOMAIN)
        threshold = self.ev["fid_threshold"]
        if threshold is not None and self.reached is None and fid is not None and fid <= threshold:
            self.reached = (t0 - self.created - self.eval_s, step)  # wall time, evaluation excluded
        self.eval_s += time.perf_counter() - t0
        out[keys.EVAL_S] = self.eval_s
        if final and threshold is not None and self.classifier is not None:
            seconds, steps = self.reached or (math.nan, math.nan)
            out[keys.TIME_TO_FID_DOMAIN_S], out[keys.TIME_TO_FID_DOMAIN_STEPS] = seconds, steps
        return out

    @torch.no_grad()
    def _generate(self, G: torch.nn.Module, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n samples from the fixed eval noise, G in eval.g_mode (its mode and buffers restored
        after), and for a conditional G the classes they were drawn for: every class alike,
        0, 1, ..., K-1, 0, ... (metrics read them as ctx.labels)."""
        gen = torch.Generator().manual_seed(self.noise_seed)
        zs = [torch.randn(min(self.batch_size, n - i), self.z_dim, generator=gen) for i in range(0, n, self.batch_size)]
        if self.g_mode == "train" and len(zs) > 1 and len(zs[-1]) < 2:
            zs[-2:] = [torch.cat(zs[-2:])]  # batch statistics need 2+ samples: the last one joins the previous batch
        classes = getattr(G, "num_classes", None) if getattr(G, "conditional", False) else None
        labels = torch.arange(n) % classes if classes else None
        chunks, start = [], 0
        for z in zs:
            y = labels[start : start + len(z)].to(self.device) if labels is not None else None
            start += len(z)
            x = sample(G, z.to(self.device), self.g_mode, y).float()  # (B, *shape)
            if self.kind == "image":  # [-1, 1] -> uint8 [0, 255]
                x = ((torch.nan_to_num(x) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
            chunks.append(x.cpu())
        return torch.cat(chunks), labels


def conditional_architecture(cfg: dict, registry) -> bool:
    """Does the run's architecture take labels (its factory's ``conditional``)?"""
    try:
        return bool(getattr(registry.get("architecture", cfg["architecture"]["name"]).factory, "conditional", False))
    except Exception:  # a registry without it (`ganbench eval --images`): unconditional
        return False


def make_evaluator(cfg: dict, data: GanData, device: torch.device, registry) -> Evaluator:
    """An ``evaluate(generator, step) -> {metric: number}`` for this run (see Evaluator).

    registry: where the metric plugins of ``eval.metrics`` are looked up (the run's)."""
    return Evaluator(cfg, data, device, registry)
