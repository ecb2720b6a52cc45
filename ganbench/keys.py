"""Result keys of the evaluation, as recorded in run.json's `metrics` and history.csv.

The report reads these names; change them only together with it.
"""

# Domain feature space: the dataset's own mode-coverage classifier as torch-fidelity's
# feature extractor (penultimate layer for FID/KID/PRC, logits for IS). Always offline.
FID_DOMAIN = "fid_domain"
KID_DOMAIN = "kid_domain"
IS_DOMAIN = "is_domain"
PRECISION_DOMAIN = "precision_domain"
RECALL_DOMAIN = "recall_domain"
DOMAIN_KEYS = (FID_DOMAIN, KID_DOMAIN, IS_DOMAIN, PRECISION_DOMAIN, RECALL_DOMAIN)

# Inception feature space: only when the Inception weights are on this machine.
FID = "fid"
IS = "is"
KID = "kid"
INCEPTION_KEYS = (FID, IS, KID)

# Mode coverage (classifier labels for images, nearest centre for 2-D mixtures).
MODES_COVERED = "modes_covered"
MODES_TOTAL = "modes_total"
MODE_KL = "mode_kl"  # KL(generated class histogram || real class histogram), nats (2-D: high-quality samples only)
MODE_JSD = "mode_jsd"  # 2-D mixtures: JSD(high-quality mode histogram, uniform), nats (PacGAN)
CONFIDENT_FRAC = "confident_frac"  # images: share of samples classified confidently as a real class (not non-data)
HIGH_QUALITY_FRAC = "high_quality_frac"  # 2-D mixtures: share within 3 sigma of a centre
COVERAGE_KEYS = (MODES_COVERED, MODES_TOTAL, MODE_KL, MODE_JSD, CONFIDENT_FRAC, HIGH_QUALITY_FRAC)
# What an evaluation of a generator measures (re-measured by `ganbench eval`).
SAMPLE_KEYS = DOMAIN_KEYS + INCEPTION_KEYS + COVERAGE_KEYS

# Cost. train_img_per_s and wall_s come from the training loop itself.
TRAIN_IMG_PER_S = "train_img_per_s"
D_STEP_MS = "d_step_ms"  # one discriminator update (n_disc of them per step)
G_STEP_MS = "g_step_ms"  # one generator update
PEAK_MEM_MB = "peak_mem_mb"  # CUDA max allocated, or the process's peak RSS on CPU
EVAL_S = "eval_s"  # seconds spent evaluating so far (cumulative)
WALL_S = "wall_s"
TIME_TO_FID_DOMAIN_S = "time_to_fid_domain_s"  # wall seconds, evaluation time excluded
TIME_TO_FID_DOMAIN_STEPS = "time_to_fid_domain_steps"
# Measured in seconds or bytes: they depend on the device, the threads and how many runs
# shared the device (run.json env), so the report compares them only within one such context.
COST_KEYS = (TRAIN_IMG_PER_S, D_STEP_MS, G_STEP_MS, PEAK_MEM_MB, EVAL_S, WALL_S, "train_s", "d_pretrain_s", TIME_TO_FID_DOMAIN_S)


# Which way is better for each key ganbench itself produces (the report's verdicts,
# keep_best); "none" for a count that is no score. The built-in metric families declare
# theirs from this table (metrics.families), as a plugin declares its `directions`.
LOWER, HIGHER, NONE = "lower", "higher", "none"
DIRECTIONS: dict[str, str] = {
    FID_DOMAIN: LOWER,
    KID_DOMAIN: LOWER,
    IS_DOMAIN: HIGHER,
    PRECISION_DOMAIN: HIGHER,
    RECALL_DOMAIN: HIGHER,
    FID: LOWER,
    IS: HIGHER,
    KID: LOWER,
    MODES_COVERED: HIGHER,
    MODES_TOTAL: NONE,
    MODE_KL: LOWER,
    MODE_JSD: LOWER,
    CONFIDENT_FRAC: HIGHER,
    HIGH_QUALITY_FRAC: HIGHER,
    TRAIN_IMG_PER_S: HIGHER,
    **{k: LOWER for k in COST_KEYS if k != TRAIN_IMG_PER_S},
    TIME_TO_FID_DOMAIN_STEPS: LOWER,
}


def direction(metric: str) -> str | None:
    """LOWER, HIGHER, or None for a key that is not ganbench's own or is no score (a count).

    `metric` may carry a statistic's suffix (`fid_domain.mean`). Metric plugins' keys:
    ``ganbench.plugins.Registry.metric_directions``."""
    how = DIRECTIONS.get(metric.split(".")[0])
    return how if how in (LOWER, HIGHER) else None
