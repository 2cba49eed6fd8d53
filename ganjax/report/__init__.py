"""Pictures of a run and the page that shows them: sample grids, loss curves, report.html.

- images.py: sample grids and PNG / figure files;
- curves.py: loss curves and class-share bars;
- numbers.py: eval.json's numbers with what a good value is;
- facts.py: sessions, wall time, config changes and figure captions, read from the run folder;
- page.py: report.html itself.
"""
from ganjax.report.images import grid, grid_image, grid_scale, save_figure, save_grid, save_png
from ganjax.report.curves import (D_OUTPUTS, NOT_PLOTTED, TERM_NAMES, loss_panels, losses_figure,
                                  plot_class_shares, plot_losses, read_metrics)
from ganjax.report.numbers import EVAL_KEYS, EVAL_META, EVAL_HIDDEN, eval_rows
from ganjax.report.facts import METHODS, config_changes, figure_caption, run_facts, wall_time
from ganjax.report.page import CSS, write_html

__all__ = ["grid", "grid_image", "grid_scale", "save_figure", "save_grid", "save_png",
           "D_OUTPUTS", "NOT_PLOTTED", "TERM_NAMES", "loss_panels", "losses_figure", "plot_class_shares", "plot_losses",
           "read_metrics", "EVAL_HIDDEN", "EVAL_KEYS", "EVAL_META", "eval_rows",
           "METHODS", "config_changes", "figure_caption", "run_facts", "wall_time", "CSS", "write_html"]
