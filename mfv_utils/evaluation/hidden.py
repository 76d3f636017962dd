"""The measures of hidden units' facets (notebook 02, Fig. 6 / S9): each drawn unit's fidelity per
method, the per-layer means, the class purity of class units against fc-like units, the goals,
and one unit's row of ``metrics.json``. Units are the dicts of :func:`mfv_utils.facets.unit_facets.find`
with the visualizations added by the notebook (``viz``, ``act_end_by``: method -> value)."""
from __future__ import annotations

import numpy as np
import torch

from mfv_utils.evaluation import metrics

# the hidden-layer goals: facet identity from block3 on, hf_ratio near the real patches', and every
# drawn facet above its unit's strongest real patch
IDENTITY_GOAL, HF_RANGE, HF_SHARE_GOAL = 0.6, (0.5, 3.0), 0.8


def unit_fidelity(unit: dict, names, judge, real: torch.Tensor, real_labels: np.ndarray) -> tuple[dict, dict]:
    """Per method in ``names``: the unit's facet identity, diversity ratio, hf_ratio and whether every
    facet ends above its strongest real patch; and the judge's diversity of its visualizations.
    ``real``: the patches of the drawn facets' images, ``real_labels`` their facet (0..shown-1)."""
    rj = metrics.judge_features(judge, real)
    several = len(unit["largest"]) > 1
    fidelity, diversity = {}, {}
    for name in names:
        vj = metrics.judge_features(judge, unit["viz"][name])
        diversity[name] = metrics.mean_pairwise_distance(vj)
        fidelity[name] = {
            "facet_identity": float(metrics.facet_identity(vj, rj, real_labels).mean()) if several else 1.0,
            "diversity_ratio": round(metrics.diversity_ratio(vj, rj, real_labels), 4) if several else None,
            "hf_ratio": round(metrics.hf_ratio(unit["viz"][name], real), 4),
            "above_strongest_real": bool(unit["act_end_by"][name].min() > unit["top_act_max"]),
        }
    return fidelity, diversity


def layer_means(units: list[dict], layers: list[str], key: str, which=lambda u: True) -> dict[str, float]:
    """The mean of ``unit[key]`` over each layer's units (those ``which`` keeps)."""
    return {layer: float(np.mean([u[key] for u in units if u["layer"] == layer and which(u)])) for layer in layers}


def by_method(shown: list[dict], layers: list[str], names) -> dict:
    """method -> layer -> the drawn units' mean diversity, facet identity and hf_ratio."""
    def mean(name, layer, get):
        return float(np.mean([get(u, name) for u in shown if u["layer"] == layer]))

    return {name: {layer: {
        "diversity_viz": mean(name, layer, lambda u, n: u["diversity_viz_by"][n]),
        "facet_identity": mean(name, layer, lambda u, n: u["fidelity_by"][n]["facet_identity"]),
        "hf_ratio": mean(name, layer, lambda u, n: u["fidelity_by"][n]["hf_ratio"]),
    } for layer in layers} for name in names}


def purity(entropy_by_layer: dict, class_layer: str | None, hidden_fc: list[str]) -> dict:
    """The paper's claim that class units are purer than fc-like hidden units: their top images'
    class entropy, one against the other."""
    out = {
        "class_layer": class_layer, "hidden_fc_layers": hidden_fc,
        "class_units_entropy": entropy_by_layer.get(class_layer) if class_layer else None,
        "hidden_fc_entropy": float(np.mean([entropy_by_layer[x] for x in hidden_fc])) if hidden_fc else None,
    }
    out["class_units_purer"] = (None if None in (out["class_units_entropy"], out["hidden_fc_entropy"])
                                else bool(out["class_units_entropy"] < out["hidden_fc_entropy"]))
    return out


def goals(name: str, shown: list[dict], deep: list[dict], first_deep: str) -> dict:
    """Method ``name``'s hidden-layer goals over the drawn units (identity over ``deep`` ones)."""
    ident = float(np.mean([u["fidelity_by"][name]["facet_identity"] for u in deep])) if deep else None
    hf_ok = float(np.mean([HF_RANGE[0] <= u["fidelity_by"][name]["hf_ratio"] <= HF_RANGE[1] for u in shown]))
    above = float(np.mean([u["fidelity_by"][name]["above_strongest_real"] for u in shown]))
    return {"facet_identity_from_" + first_deep: ident, "hf_ratio_within_0.5_3_share": hf_ok,
            "above_strongest_real_share": above,
            "met": {"facet_identity": ident is not None and ident >= IDENTITY_GOAL, "hf_ratio": hf_ok >= HF_SHARE_GOAL,
                    "above_strongest_real": above == 1.0}}


def unit_row(unit: dict, names, paths, sheet_columns: list[str], display_path) -> dict:
    """One unit's entry in ``metrics.json["units"]`` (a drawn unit's adds its fidelity per method)."""
    u = unit
    row = {key: u[key] for key in ("layer", "depth", "channel", "rank", "shown", "k_data", "n_classes")}
    row.update({"strength": round(u["strength"], 4), "class_entropy": round(u["class_entropy"], 4),
                "silhouettes": {str(k_): round(v, 4) for k_, v in u["silhouettes"].items()},
                "facet_sizes": [int((u["labels"] == j).sum()) for j in u["largest"]],
                "diversity_real": round(u["diversity_real"], 4),
                "top_images": [display_path(paths[i]) for i in u["top"][:5]]})
    if u["shown"]:
        row.update({"diversity_viz": round(u["diversity_viz"], 4), "fidelity": u["fidelity"],
                    "act_start": np.round(u["act_start"], 4).tolist(), "act_end": np.round(u["act_end"], 4).tolist(),
                    "top_act_max": round(u["top_act_max"], 4), "sheet": u["sheet"], "sheet_columns": sheet_columns,
                    "by_method": {name: {"fidelity": u["fidelity_by"][name],
                                         "diversity_viz": round(u["diversity_viz_by"][name], 4),
                                         "act_end": np.round(u["act_end_by"][name], 4).tolist()} for name in names}})
    return row
