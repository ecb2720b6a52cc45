"""`ganbench report`: which setting is better, by how much, and is it more than seed noise?

The modules, each importing only modules listed above it; none imports this package,
which re-exports Report, ReportError, build_report and parse_sort:

load.py              run folders -> RunRecords and a per-run pandas frame; ReportError
metric_traits.py     a metric's direction (lower/higher is better) and the range of its values
run_columns.py       the per-run frame's axis labels, .best and --at values (At)
aggregate.py         per-cell mean, std, 95% CI over seeds, n and status counts; ranking; headline metrics
multiple_testing.py  one family per report: Holm's adjustment and the verdicts it allows
two_sample_tests.py  Welch's t, Mann-Whitney U and the permutation test of two cells' seeds
compare.py           pairwise and trend rows along an axis, and their sentences
number_format.py     how every format writes a number
plot_base.py         what every figure builds on (matplotlib, layout, the overlap check)
training_curves.py   curves over training: metrics, D accuracy, losses
axis_plots.py        final metrics vs numeric matrix axes
search.py            a `search:` suite's expected best score after n configurations (Dodge et al. 2019)
anytime.py           metrics against the work spent, and the time to a threshold
reference.py         --reference: held-out real data scored by the runs' evaluation
aggregate_suites.py  --aggregate: recipes ranked across data sets (rliable)
contents.py          the Report every view reads
assemble.py          build_report: a results folder -> a Report
answer.py            what a report says first: verdicts, what gets none, the protocol's fingerprint
table_text.py        the per-cell table as text, in full and as compact columns
detail_lines.py      footnotes, what was trained, the protocol, every pairwise and trend test
terminal.py          the terminal view (rich)
formats.py           Markdown, LaTeX, CSV and JSON
html.py              one self-contained HTML page
traverse.py          latent-space traversal of a trained generator (`ganbench traverse`)
sample_plots.py      sample grids over training, final grids, latent traversals, 2-D scatters
plots.py             every figure of a report, rendered to PNG
output.py            writing a report (or the --aggregate pages, or an index) to files
"""

from .assemble import build_report, parse_sort
from .contents import Report
from .load import ReportError

__all__ = ["Report", "ReportError", "build_report", "parse_sort"]
