"""The measures of notebook 04's comparison of image priors (Fig. S3): every image scored by the
optimized network and a held-out judge, each method's summary over the classes, and the paper's
claims about priors tested on those summaries."""
from __future__ import annotations

import numpy as np

from mfv_utils.evaluation import metrics


def loghf(v: float) -> float:
    """How far a high-frequency ratio is from the real images' (1.0), symmetric in log."""
    return abs(float(np.log(max(v, 1e-12))))


def image_rows(name: str, start: str, images, rows: list[dict], net, judge, targets, hf_real: list[float]) -> list[dict]:
    """One row per class of method ``name``'s images (``rows``: the classes, with their ``reference``
    real images): own and judge scores, hf ratio against the class's real images, colour distance,
    the judge's evidence centred and in how many peaks."""
    own = metrics.class_scores(net, images, targets)
    held = metrics.class_scores(judge, images, targets)
    hf = metrics.hf_share(images)
    evidence = metrics.class_evidence(judge, images, targets)
    central, peaks = metrics.center_share(evidence), metrics.count_peaks(evidence)
    return [{
        "method": name, "class": r["class"].name, "class_index": r["class"].index, "images": r["spec"],
        "start": start,
        "logit": round(float(own["logit"][i]), 4), "prob": round(float(own["prob"][i]), 4),
        "rank": int(own["rank"][i]),
        "judge_logit": round(float(held["logit"][i]), 4), "judge_prob": round(float(held["prob"][i]), 4),
        "judge_rank": int(held["rank"][i]),
        "hf_ratio": round(float(hf[i] / max(hf_real[i], 1e-12)), 4),
        "color_distance": round(metrics.color_distance(images[i], r["reference"]), 4),
        "center_share": round(float(central[i]), 4), "n_peaks": int(peaks[i]),
    } for i, r in enumerate(rows)]


def method_summary(name: str, start: str, iterations: int, seconds: float, mine: list[dict]) -> dict:
    """Method ``name`` over its :func:`image_rows` ``mine``."""
    return {
        "method": name, "start": start, "iterations": iterations,
        "seconds": seconds,
        "prob": round(float(np.mean([r["prob"] for r in mine])), 4),
        "top1": metrics.topk_hits([r["rank"] for r in mine], 1),
        "judge_prob": round(float(np.mean([r["judge_prob"] for r in mine])), 4),
        "judge_top5": metrics.topk_hits([r["judge_rank"] for r in mine], 5),
        # geometric mean: hf ratios are multiplicative (2x too much and 2x too little are equally far)
        "hf_ratio": round(float(np.exp(np.mean(np.log([max(r["hf_ratio"], 1e-12) for r in mine])))), 4),
        "color_distance": round(float(np.mean([r["color_distance"] for r in mine])), 4),
        "center_share": round(float(np.mean([r["center_share"] for r in mine])), 4),
        "n_peaks": round(float(np.mean([r["n_peaks"] for r in mine])), 3),
    }


def claims(per_method: dict, n_classes: int) -> dict:
    """The paper's claims about priors, each ``{"holds": True/False/None (not measured), ...}``, and
    the recommended method (best mean rank on colour, hf and the judge among those whose images the
    judge puts in its top 5 for at least 3/4 of the classes)."""
    def avg(keys, field, f=lambda v: v):
        keys = [key for key in keys if key in per_method]
        return float(np.mean([f(per_method[key][field]) for key in keys])) if keys else None

    out = {}
    tv_hf, soft_hf = avg(["tv", "tv_jitter", "tv_penalty_jitter"], "hf_ratio", loghf), \
        avg(["l2_decay", "blur", "blur_jitter"], "hf_ratio", loghf)
    out["tv_beats_blur_l2_on_hf"] = {"holds": None if None in (tv_hf, soft_hf) else bool(tv_hf < soft_hf),
                                     "tv_abs_log_hf": tv_hf, "blur_l2_abs_log_hf": soft_hf}
    paper_era = [n for n in ["none", "l2_decay", "alpha_norm", "blur", "tv", "tv_jitter", "tv_penalty_jitter",
                             "blur_jitter", "center_bias", "mfv", "center_bias_mfv"] if n in per_method]
    if "mfv" in per_method:
        by_color = sorted(per_method, key=lambda n: per_method[n]["color_distance"])
        era_color = [n for n in by_color if n in paper_era]
        out["mfv_most_natural_colors"] = {"holds": era_color[0] == "mfv",
                                          "rank_among_paper_era": era_color.index("mfv") + 1,
                                          "rank_among_all": by_color.index("mfv") + 1, "best_overall": by_color[0]}
    else:
        out["mfv_most_natural_colors"] = {"holds": None}
    if {"center_bias", "tv_jitter"} <= per_method.keys():
        cb, tj = per_method["center_bias"], per_method["tv_jitter"]
        out["center_bias_fewer_fragments_more_central"] = {
            "holds": bool(cb["n_peaks"] < tj["n_peaks"] and cb["center_share"] > tj["center_share"]),
            "n_peaks": [cb["n_peaks"], tj["n_peaks"]], "center_share": [cb["center_share"], tj["center_share"]]}
    else:
        out["center_bias_fewer_fragments_more_central"] = {"holds": None}
    if {"tv", "tv_jitter"} <= per_method.keys():
        t, tj = per_method["tv"], per_method["tv_jitter"]
        ratio = max(t["hf_ratio"], tj["hf_ratio"]) / max(min(t["hf_ratio"], tj["hf_ratio"]), 1e-12)
        out["tv_about_tv_jitter"] = {"holds": bool(abs(t["judge_top5"] - tj["judge_top5"]) <= 2 and ratio < 1.25),
                                     "judge_top5": [t["judge_top5"], tj["judge_top5"]], "hf_factor": round(ratio, 3)}
    else:
        out["tv_about_tv_jitter"] = {"holds": None}
    eligible = [n for n in per_method if per_method[n]["judge_top5"] >= 0.75 * n_classes]
    if eligible:
        def ranks(key, sign=1):
            order = sorted(eligible, key=lambda n: sign * key(per_method[n]))
            return {n: order.index(n) for n in eligible}
        r1 = ranks(lambda p: p["color_distance"])
        r2 = ranks(lambda p: loghf(p["hf_ratio"]))
        r3 = ranks(lambda p: p["judge_prob"], -1)
        score = {n: (r1[n] + r2[n] + r3[n]) / 3 for n in eligible}
        best = min(eligible, key=lambda n: (score[n], n))
        out["recommended"] = {"method": best, "eligible": eligible,
                              "mean_rank": {n: round(v, 3) for n, v in score.items()}}
    else:
        out["recommended"] = {"method": None, "eligible": []}
    return out
