"""Plotly figures. Every function returns a ``plotly.graph_objects.Figure``; writing files is separate
(:func:`save_figure`)."""

from .check_model import diagnostics_figure
from .clinical import dose_response_figure, jacobson_figure, waterfall_figure
from .diagnostics import caterpillar_figure, qq_figure, residual_fitted_figure
from .export import save_figure
from .flow import flow_counts, flow_figure, retention_figure
from .forest import forest_figure
from .mmrm import ls_means_figure
from .sensitivity import tipping_point_figure
from .style import arm_colors, outcome_label
from .trajectories import observed_means_figure, trajectory_figure

__all__ = [
    "arm_colors",
    "caterpillar_figure",
    "diagnostics_figure",
    "dose_response_figure",
    "flow_counts",
    "flow_figure",
    "forest_figure",
    "jacobson_figure",
    "ls_means_figure",
    "observed_means_figure",
    "outcome_label",
    "qq_figure",
    "residual_fitted_figure",
    "retention_figure",
    "save_figure",
    "tipping_point_figure",
    "trajectory_figure",
    "waterfall_figure",
]
