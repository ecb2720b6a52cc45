"""Scoring runs: what the training loop calls at each eval interval and at the end.

``make_evaluator(cfg, data, device)`` builds an Evaluator; the loop calls
``evaluator(G, step) -> {metric: number}`` at ``eval.every`` and at the last step, whose
values become the run's final metrics. Intermediate evaluations use ``eval.curve_samples``
samples, the last one ``eval.samples``. The evaluator's ``protocol`` (a flat mapping) and
``notes`` (one-line strings) go into run.json beside the numbers.

Throughput (d_step_ms, g_step_ms, peak_mem_mb) is measured by the loop with
``metrics.cost.StepTimer``; losses and train_img_per_s come from the loop itself.
"""

from __future__ import annotations

import math
import time

import torch

from ..contracts import GanData
from ..sampling import sample
from ..schedule import total_steps
from . import classifier as clf
from . import coverage, fidelity, keys
from . import plugin as metric_plugins

SAMPLES = {"image": 10_000, "points": 2_500}  # final eval: Lucic et al. use 10k; VEEGAN/PacGAN 2,500 points
CURVE_SAMPLES = {"image": 2_000, "points": 2_500}  # intermediate evals: a stable trend at a fifth of the cost
NOISE_SEED = 10_000  # + the run's seed: the same latent batch at every eval, so curves move only with G


class Evaluator:
    """Scores a generator on one run's dataset; see the module docstring."""

    def __init__(self, cfg: dict, data: GanData, device: torch.device, registry=None):
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
        self.eval_s = 0.0
        self.reached: tuple[float, int] | None = None  # (seconds, step) fid_domain first <= threshold
        self.notes: list[str] = []
        self.protocol: dict = {
            "samples": self.samples,
            "curve_samples": self.curve_samples,
            "batch_size": self.batch_size,
            "g_mode": self.g_mode,
        }
        self.classifier = self.real = self.weights = None
        self.mixture = data.kind == "points" and data.modes is not None
        if data.kind == "image":
            self._setup_images(cfg)
        elif self.mixture:
            self.protocol.update(
                mode_assignment="nearest centre", high_quality_sigmas=coverage.HQ_SIGMAS, mode_std=data.mode_std, modes=len(data.modes)
            )
        else:
            self.notes.append(
                f"no sample-quality metrics for {data.kind} data without known modes: only cost is measured"
                if not ev.get("metrics")
                else f"no built-in sample-quality metrics for {data.kind} data without known modes"
            )
        self._setup_plugins(cfg, registry)

    # ------------------------------------------------------------ set-up

    def _setup_images(self, cfg: dict) -> None:
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
        spaces = []
        self.protocol.update(real_split=split, real_samples=len(self.real), torch_fidelity=fidelity.torch_fidelity.__version__)
        if data.train_labels is not None and data.num_classes:
            self.classifier = clf.get_classifier(name, options, data, self.device, ev["classifier_floor"])
            # Stacked data's labels already name the joint mode (base-k digits per channel).
            self.real_hist = coverage.class_histogram(data.train_labels, self.classifier.num_modes)
            spaces.append("domain")
            self.protocol.update(
                classifier_accuracy=round(self.classifier.accuracy, 4),
                classifier_floor=self.classifier.floor,
                classifier_cache=self.classifier.path.name,
                classifier_hash=self.classifier.hash,  # the feature space itself: pool runs only when equal
                domain_feature_dim=clf.FEATURE_DIM * (data.train.shape[1] if data.info.get("channel_classes") else 1),
                kid_subset_size=min(fidelity.KID_SUBSET_SIZE, self.samples, len(self.real)),
                kid_subsets=fidelity.KID_SUBSETS,
                kid_subsets_curve=fidelity.KID_SUBSETS_CURVE,
                isc_splits=fidelity.ISC_SPLITS,
                prc_neighborhood=fidelity.PRC_NEIGHBORHOOD,
                prc_samples=min(self.samples, len(self.real)),
                mode_min_share=ev["mode_min_share"],
                confidence=ev["confidence"],
                mode_kl_reference="train labels",
            )
            if ev["fid_threshold"] is not None:
                self.protocol["fid_threshold"] = ev["fid_threshold"]
        else:
            self.notes.append(f"domain metrics and mode coverage absent: dataset {name} has no labels to train a classifier on")
        if ev["inception"] == "off":
            self.notes.append("Inception metrics absent: turned off (eval.inception: off)")
        else:
            self.weights, why = fidelity.find_inception_weights(ev["inception_weights"])
            if self.weights is None and ev["inception"] == "on":
                raise ValueError(f"eval.inception is on but the Inception weights are missing: {why}")
            if self.weights is None:
                self.notes.append(f"Inception metrics absent: {why}")
            else:
                spaces.append("inception")
                self.protocol["inception_weights"] = str(self.weights)
        self.protocol["feature_spaces"] = ",".join(spaces) or "none"

    def _setup_plugins(self, cfg: dict, registry) -> None:
        """The metric plugins this run enables (eval.metrics), their protocol fields."""
        self.metrics: dict = {}
        specs = self.ev.get("metrics") or {}
        if not specs:
            return
        from ..plugins import current_registry

        self.metrics, skipped = metric_plugins.make_metrics(specs, registry or current_registry(), self.kind)
        self.notes.extend(skipped)
        self.context = metric_plugins.Context(self.data, cfg["dataset"], self.device, cfg["seed"], True, self.samples, self.classifier)
        for name, metric in self.metrics.items():
            fields = metric.protocol(self.context)
            self.protocol.update({f"{name}.{k}": v for k, v in fields.items()})
        self.notes.extend(n for n in self.context.notes if n not in self.notes)  # run.json keeps set-up notes

    def _score_plugins(self, x: torch.Tensor, final: bool) -> dict:
        out: dict = {}
        for name, metric in self.metrics.items():
            if metric.final_only and not final:
                continue
            self.context.final = final
            values = metric(x, self.context)
            declared = metric.directions
            for key, value in values.items():
                if key not in declared:
                    raise ValueError(f"metric {name!r} returned {key!r}, which it does not declare in `directions`")
                if key in out:
                    raise ValueError(f"metric {name!r} returned {key!r}, which another metric also returns")
                out[key] = float(value)
        for note in self.context.notes:  # remarks made while scoring
            if note not in self.notes:
                self.notes.append(note)
        return out

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

    def __call__(self, G: torch.nn.Module, step: int) -> dict:
        t0 = time.perf_counter()
        final = step >= self.total_steps
        n = self.samples if final else self.curve_samples
        # torch-fidelity's DataLoader draws from the global RNG: fork it, so evaluating
        # never changes the training run's random stream.
        devices = (
            [self.device.index if self.device.index is not None else torch.cuda.current_device()] if self.device.type == "cuda" else []
        )
        with torch.random.fork_rng(devices=devices):
            x = self._generate(G, n)
            out = self._score(x, fidelity.KID_SUBSETS if final else fidelity.KID_SUBSETS_CURVE)
            if self.metrics:
                plugged = self._score_plugins(x, final)
                clash = sorted(set(plugged) & set(out))
                if clash:
                    raise ValueError(f"a metric plugin returned {clash[0]!r}, a key of ganbench's built-in metrics")
                out.update(plugged)
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
    def _generate(self, G: torch.nn.Module, n: int) -> torch.Tensor:
        """n samples from the fixed eval noise, G in eval.g_mode (its mode and buffers restored after)."""
        gen = torch.Generator().manual_seed(self.noise_seed)
        zs = [torch.randn(min(self.batch_size, n - i), self.z_dim, generator=gen) for i in range(0, n, self.batch_size)]
        if self.g_mode == "train" and len(zs) > 1 and len(zs[-1]) < 2:
            zs[-2:] = [torch.cat(zs[-2:])]  # batch statistics need 2+ samples: the last one joins the previous batch
        chunks = []
        for z in zs:
            x = sample(G, z.to(self.device), self.g_mode).float()  # (B, *shape)
            if self.kind == "image":  # [-1, 1] -> uint8 [0, 255]
                x = ((torch.nan_to_num(x) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
            chunks.append(x.cpu())
        return torch.cat(chunks)

    def _score(self, x: torch.Tensor, kid_subsets: int = fidelity.KID_SUBSETS) -> dict:
        if self.mixture:
            labels = self.data.train_labels  # None: the mixture's weights are taken as uniform
            real_hist = None if labels is None else coverage.class_histogram(labels, len(self.data.modes))
            return coverage.mixture_coverage(x, self.data.modes, self.data.mode_std, real_hist)
        if self.kind != "image":
            return {}
        out: dict = {}
        if self.classifier is not None:
            probs = self.classifier.predict(x)
            out.update(coverage.image_coverage(probs, self.real_hist, self.ev["mode_min_share"], self.ev["confidence"]))
            out.update(fidelity.domain_metrics(self.classifier, x, self.real, self.real_hash, self.device, self.batch_size, kid_subsets))
        if self.weights is not None:
            out.update(fidelity.inception_metrics(self.weights, x, self.real, self.real_hash, self.device, self.batch_size, kid_subsets))
        return out


def make_evaluator(cfg: dict, data: GanData, device: torch.device, registry=None) -> Evaluator:
    """An ``evaluate(generator, step) -> {metric: number}`` for this run (see Evaluator).

    registry: where the metric plugins of ``eval.metrics`` are looked up (the runner passes
    the run's; default: the installed plugins, ``ganbench.plugins.current_registry``)."""
    return Evaluator(cfg, data, device, registry)


def registry_direction(key: str, registry=None) -> str | None:
    """Which way is better ("higher", "lower", None) for a key of a metric plugin."""
    return metric_plugins.registry_direction(key, registry)
