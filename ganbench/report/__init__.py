"""`ganbench report`: which setting is better, by how much, and is it more than seed noise?

load.py          run folders -> RunRecords and a per-run pandas frame
aggregate.py     per-cell mean, std, 95% CI over seeds, final/best/--at values, ranking
compare.py       pairwise tests and trend tests along an axis, Holm-adjusted as one family
formats.py       terminal (rich), Markdown, CSV and JSON output
plots.py         matplotlib figures (PNG): curves over training, metrics vs numeric axes; layout checks
sample_plots.py  sample grids over training, final grids, latent traversals, 2-D scatters
traverse.py      latent-space traversal of a trained generator (`ganbench traverse`)
html.py          one self-contained HTML page
answer.py        what a report says first: verdicts, what gets none, the protocol's fingerprint
search.py        a `search:` suite's expected best score after n configurations (Dodge et al. 2019)
"""

from .assemble import build_report, parse_sort
from .contents import Report
from .load import ReportError

__all__ = ["Report", "ReportError", "build_report", "parse_sort"]
