"""FID / IS / KID / precision-recall through torch-fidelity, in two feature spaces.

- domain: the dataset's mode-coverage classifier, registered with torch-fidelity as the
  feature extractor ``ganbench-domain`` (penultimate layer for FID/KID/PRC, logits for IS).
- inception: torch-fidelity's own ``inception-v3-compat``, only when its weights file is
  on this machine (no download is ever attempted).

Both sides reach torch-fidelity as uint8 (N, 3, H, W) tensors wrapped in a Dataset whose
items are bare tensors (grayscale tiled to 3 channels). Generated samples are drawn by
ganbench itself, so torch-fidelity never touches the generator or its train/eval mode.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import torch
import torch_fidelity
from threadpoolctl import threadpool_limits
from torch.utils.data import Dataset
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

from .. import keys
from . import classifier as clf

DOMAIN_EXTRACTOR = "ganbench-domain"
INCEPTION_EXTRACTOR = "inception-v3-compat"
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"  # torch-fidelity 0.4.0's file name
INCEPTION_ENV = "GANBENCH_INCEPTION_WEIGHTS"
KID_SUBSET_SIZE = 1000  # torch-fidelity's default, lowered to the sample count when smaller
KID_SUBSETS = 100  # torch-fidelity's default, for the final evaluation
KID_SUBSETS_CURVE = 20  # intermediate evals: KID's 100 kernel subsets dominate the eval time on a CPU
ISC_SPLITS = 10  # torch-fidelity's default (the IS paper's 10 splits)
PRC_NEIGHBORHOOD = 3  # torch-fidelity's default (Kynkaanniemi et al. use k = 3)
RNG_SEED = 2020  # torch-fidelity's default seed for KID subsets and IS splits: fixed, so runs compare


class ImageTensors(Dataset):
    """uint8 (N, C, H, W) -> items (3, H, W) uint8, bare tensors on the CPU (torch-fidelity pins them)."""

    def __init__(self, images: torch.Tensor):
        x = images.detach().cpu()
        self.x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # grayscale tiled, no copy

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i].contiguous()


class DomainExtractor(FeatureExtractorBase):
    """torch-fidelity feature extractor around a ModeClassifier built in this process.

    torch-fidelity constructs it by name with every calculate_metrics kwarg; the
    classifier is found by its cache file, passed as ``feature_extractor_weights_path``.
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.model = clf.load_cached(feature_extractor_weights_path)

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "logits" if metric == "isc" else "features"  # IS applies softmax to logits itself

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

    def forward(self, x):  # (B, 3, H, W) uint8
        dev = next(self.model.parameters()).device
        feats, logits = self.model(x.to(dev))
        out = {"features": feats, "logits": logits}
        return tuple(out[f].float() for f in self.features_list)


def register_domain_extractor() -> None:
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    if DOMAIN_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(DOMAIN_EXTRACTOR, DomainExtractor)


def _common(device: torch.device, batch_size: int, n_gen: int, n_real: int, real_cache_name: str, kid_subsets: int) -> dict:
    return {
        "cuda": device.type == "cuda",
        "batch_size": batch_size,
        "verbose": False,
        "save_cpu_ram": True,  # no DataLoader worker processes; memory-light precision-recall
        "rng_seed": RNG_SEED,
        # Only the real side is cached, under a name holding its content and extractor
        # hashes: torch-fidelity's own cache keys ignore both.
        "cache": True,
        "cache_root": str(clf.cache_dir() / "fidelity"),
        "input2_cache_name": real_cache_name,
        "kid_subsets": kid_subsets,
        "kid_subset_size": min(KID_SUBSET_SIZE, n_gen, n_real),  # KID fails above the sample count
        "isc_splits": ISC_SPLITS,
    }


def domain_metrics(
    model: clf.ModeClassifier,
    gen: torch.Tensor,
    real: torch.Tensor,
    real_hash: str,
    device,
    batch_size: int,
    kid_subsets: int = KID_SUBSETS,
) -> dict:
    """FID/KID/IS/precision/recall of uint8 images `gen` (N, C, H, W) vs `real` (M, C, H, W)."""
    register_domain_extractor()
    common = _common(device, batch_size, len(gen), len(real), f"ganbench-real-{real_hash[:16]}-domain-{model.key}", kid_subsets)
    with _on(device):
        out = torch_fidelity.calculate_metrics(
            input1=ImageTensors(gen),
            input2=ImageTensors(real),
            isc=True,
            fid=True,
            kid=True,
            feature_extractor=DOMAIN_EXTRACTOR,
            feature_extractor_weights_path=str(model.path),
            **common,
        )
        # Precision/recall compare k-NN radii of the two sets: equal sizes keep it unbiased.
        m = min(len(gen), len(real))
        prc = torch_fidelity.calculate_metrics(
            input1=ImageTensors(gen[:m]),
            input2=ImageTensors(real[:m]),
            prc=True,
            prc_neighborhood=PRC_NEIGHBORHOOD,
            feature_extractor=DOMAIN_EXTRACTOR,
            feature_extractor_weights_path=str(model.path),
            **{**common, "input2_cache_name": f"{common['input2_cache_name']}-n{m}"},
        )
    return {
        keys.FID_DOMAIN: out[torch_fidelity.KEY_METRIC_FID],
        keys.KID_DOMAIN: out[torch_fidelity.KEY_METRIC_KID_MEAN],
        keys.IS_DOMAIN: out[torch_fidelity.KEY_METRIC_ISC_MEAN],
        keys.PRECISION_DOMAIN: prc[torch_fidelity.KEY_METRIC_PRECISION],
        keys.RECALL_DOMAIN: prc[torch_fidelity.KEY_METRIC_RECALL],
    }


def domain_fid(model: clf.ModeClassifier, gen: torch.Tensor, real: torch.Tensor, real_hash: str, device, batch_size: int) -> float:
    """FID alone of uint8 images `gen` vs `real` in the domain feature space (intra-class FID's parts)."""
    register_domain_extractor()
    common = _common(device, batch_size, len(gen), len(real), f"ganbench-real-{real_hash[:16]}-domain-{model.key}", 1)
    with _on(device):
        out = torch_fidelity.calculate_metrics(
            input1=ImageTensors(gen),
            input2=ImageTensors(real),
            fid=True,
            feature_extractor=DOMAIN_EXTRACTOR,
            feature_extractor_weights_path=str(model.path),
            **{k: v for k, v in common.items() if not k.startswith(("kid_", "isc_"))},
        )
    return out[torch_fidelity.KEY_METRIC_FID]


def find_inception_weights(option: str | None) -> tuple[Path | None, str]:
    """(the weights file, or None with the reason): option, then $GANBENCH_INCEPTION_WEIGHTS, then torch's hub cache."""
    for source, value in (("eval.inception_weights", option), (INCEPTION_ENV, os.environ.get(INCEPTION_ENV))):
        if value:
            path = Path(value).expanduser()
            return (path, "") if path.is_file() else (None, f"{source} names {path}, which is not a file")
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if hub.is_file():
        return hub, ""
    return None, f"no weights file (set {INCEPTION_ENV} to a copy of {INCEPTION_FILE}, or put it in {hub.parent})"


def _inception_url() -> str:
    """Where torch-fidelity itself downloads the weights from."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def fetch_inception_weights() -> Path:
    """Download the Inception weights into torch's hub cache, where find_inception_weights
    looks; OSError (one line, with the manual route) when offline."""
    hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
    if hub.is_file():
        return hub
    hub.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(_inception_url(), str(hub), progress=False)
    except Exception as e:
        raise OSError(
            f"cannot download {_inception_url()} ({type(e).__name__}: {str(e).strip()[:120]}); "
            f"copy {INCEPTION_FILE} to {hub} by hand, or set {INCEPTION_ENV} to its path"
        ) from None
    return hub


def weights_id(path: Path) -> str:
    """A cheap identity of a weights file for cache names: path, size and mtime."""
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]


def inception_metrics(
    weights: Path, gen: torch.Tensor, real: torch.Tensor, real_hash: str, device, batch_size: int, kid_subsets: int = KID_SUBSETS
) -> dict:
    """Inception FID/IS/KID of uint8 images (torch-fidelity resizes to 299 itself)."""
    common = _common(
        device, batch_size, len(gen), len(real), f"ganbench-real-{real_hash[:16]}-inception-{weights_id(weights)}", kid_subsets
    )
    with _on(device):
        out = torch_fidelity.calculate_metrics(
            input1=ImageTensors(gen),
            input2=ImageTensors(real),
            isc=True,
            fid=True,
            kid=True,
            feature_extractor=INCEPTION_EXTRACTOR,
            feature_extractor_weights_path=str(weights),
            **common,
        )
    return {
        keys.FID: out[torch_fidelity.KEY_METRIC_FID],
        keys.IS: out[torch_fidelity.KEY_METRIC_ISC_MEAN],
        keys.KID: out[torch_fidelity.KEY_METRIC_KID_MEAN],
    }


@contextlib.contextmanager
def _on(device: torch.device):
    """Where and how torch-fidelity computes: it moves its extractor with .cuda(), so the
    run's GPU is made current; its KID and FID statistics are NumPy/SciPy linear algebra,
    whose OpenBLAS results depend on the BLAS thread count (kid_domain 3699.260896 with 2
    threads, 3699.260881 with 1, same features), so BLAS runs on one thread: `ganbench eval`
    reproduces a run's numbers whatever the thread settings of either process."""
    with threadpool_limits(limits=1, user_api="blas"):
        with torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext():
            yield
