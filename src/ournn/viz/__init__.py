"""Seeing inside: model summary (shapes and parameter counts); plots and graphs need the
``viz`` extra (matplotlib) and are imported where used."""
import importlib

from .summary import summary

# Names served from submodules on first access, so ``import ournn`` never imports matplotlib:
# ``ournn.viz.plot_history`` imports ``ournn.viz.plots`` the first time it is looked up.
_LAZY = {
    "plot_history": "plots",
    "plot_lr_schedule": "plots",
    "plot_comparison": "plots",
    "confusion_matrix": "plots",
    "plot_confusion_matrix": "plots",
    "worst_predictions": "plots",
    "plot_worst_predictions": "plots",
    "plot_filters": "plots",
    "plot_feature_maps": "plots",
    "plot_histograms": "plots",
    "weight_histograms": "plots",
    "activation_histograms": "plots",
    "gradient_histograms": "plots",
    "write_run_plots": "plots",
    "GradientNormLogger": "diagnostics",
    "plot_gradient_norms": "diagnostics",
    "draw_graph": "graph",
    "draw_model": "graph",
    "autograd_dot": "graph",
    "model_dot": "graph",
    "model_svg": "graph",
}

__all__ = ["summary"]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
