"""Pictures of compiled models (needs matplotlib, the ``bench`` extra; imported only when a figure is drawn).

- ``residual_figure(model, tokens)``: the residual stream after the embedding and every sublayer that
  writes, one band of rows per s-op (``residual_plan`` says what it draws).
- ``attention_figure(model, tokens, program=None)``: every head's attention pattern, titled with the
  selector it implements when the program is given (``attention_plan``).
- ``affine_figure(model)``: every MLP that discretises an affine combination t of its inputs: which s-ops
  feed t and their coefficients (``affine_plan``).
- ``layout_figure(model, heuristic_model)``: where the allocation put every block, beside another
  allocation of the same program (``layout_plan``).

Each returns a matplotlib figure; ``save(figure, path)`` writes and closes it.
"""

from optracr.plotting._matplotlib import save
from optracr.plotting.affine import AffinePanel, AffinePlan, affine_figure, affine_plan, draw_affine
from optracr.plotting.attention import AttentionPlan, HeadPanel, attention_figure, attention_plan, draw_attention
from optracr.plotting.layout import LayoutBox, LayoutPanel, LayoutPlan, draw_layout, layout_figure, layout_plan
from optracr.plotting.selectors import describe_selector
from optracr.plotting.residual import Band, ResidualPlan, Stage, draw_residual, residual_figure, residual_plan

__all__ = [
    "AffinePanel",
    "AffinePlan",
    "affine_figure",
    "affine_plan",
    "draw_affine",
    "AttentionPlan",
    "HeadPanel",
    "attention_figure",
    "attention_plan",
    "describe_selector",
    "draw_attention",
    "LayoutBox",
    "LayoutPanel",
    "LayoutPlan",
    "draw_layout",
    "layout_figure",
    "layout_plan",
    "Band",
    "ResidualPlan",
    "Stage",
    "draw_residual",
    "residual_figure",
    "residual_plan",
    "save",
]
