"""What ``python -m mfv_utils.claims`` measures, as data: the notebook runs behind the README's
claims (:class:`Run`, a notebook and its parameters, on a stated subset where a full run per seed
is too slow) and the measures read from each run's ``metrics.json`` (:class:`Measure`, a path into
it and, for a goal, its bounds). A paper claim is a measure whose value is true or false."""
from __future__ import annotations

from dataclasses import dataclass, field

from mfv_utils.evaluation.metrics import CLASS_GOALS, COUNTS


@dataclass(frozen=True)
class Run:
    """One notebook run per seed: ``params`` are papermill parameters (``seed`` and ``out_dir``
    are set per seed), ``subset`` says what the run leaves out of the committed figure's run,
    ``threads`` pins the kernel's torch threads (None: the machine's)."""

    name: str
    notebook: str
    params: dict = field(default_factory=dict)
    subset: str = ""
    threads: int | None = None


@dataclass(frozen=True)
class Measure:
    """A number (or a true / false claim) in a run's ``metrics.json``. ``path``: dotted keys, with
    ``[key=value]`` picking the row of a list (``methods[method=facet].above_real``). A goal is
    ``low <= value <= high`` (either may be None); ``per_k`` divides a count by the run's k."""

    name: str
    run: str
    path: str
    section: str
    low: float | None = None
    high: float | None = None
    per_k: bool = False
    claim: str = ""  # the paper's (or our) statement this measure decides, if it is one

    @property
    def has_goal(self) -> bool:
        return self.low is not None or self.high is not None


# ------------------------------------------------------------------------------------- the runs
# notebook 01: the three classes the method was tuned on and three it never saw (as `make figures`)
CLASSES = {"bell_pepper": ("paper:bell_pepper", 10.0), "movie_theater": ("paper:movie_theater", 10.0),
           "church": ("imagenette:church", 30.0), "tench": ("imagenette:tench", 30.0),
           "garbage_truck": ("imagenette:garbage_truck", 30.0), "golf_ball": ("imagenette:golf_ball", 30.0)}
ONLY_FACET = "the figures' method only (the other methods' table rows are notebook 01's single run)"
# the same six classes drawn with the recipe facet_win (the facet method with the out-fire
# constraint): whether the class units' figures should take it (issue 31)
WIN = "facet_win"
HIDDEN = "facet_win"  # notebook 02's method (its `method` parameter): its goals are keyed by it
ONLY_WIN = f"the recipe {WIN} only (facet + the out-fire constraint), to set against the facet rows"


def run_01(c: str, method: str = "facet") -> str:
    """The name of notebook 01's claims run for class ``c`` drawn with ``method``."""
    return f"01_{c}" if method == "facet" else f"01_{c}_win"


def runs(smoke: bool = False) -> list[Run]:
    """The runs of a claims pass. ``smoke``: bell pepper only, short optimization (CI)."""
    nb01 = [Run(run_01(c), "01_bell_pepper_tsne", {"images": images, "perplexity": perp, "compare": []},
                ONLY_FACET) for c, (images, perp) in CLASSES.items()]
    win = [Run(run_01(c, WIN), "01_bell_pepper_tsne",
               {"images": images, "perplexity": perp, "compare": [], "method": WIN}, ONLY_WIN)
           for c, (images, perp) in CLASSES.items()]
    threads = Run("01_bell_pepper_1thread", "01_bell_pepper_tsne",
                  {"images": "paper:bell_pepper", "perplexity": 10.0, "compare": []},
                  ONLY_FACET + "; torch on 1 thread: the spread thread count alone makes", threads=1)
    if smoke:
        return [nb01[0], threads]
    return nb01 + win + [threads,
                   Run("02", "02_hidden_layer_facets", {"compare": []},
                       f"the figures' method only ({HIDDEN}, the notebook's default; the paper method's column "
                       "is notebook 02's single run)"),
                   Run("03", "03_interpolation_study", {"classes": ["paper:bell_pepper"]},
                       "bell pepper only (3 pairs), of notebook 03's three classes"),
                   Run("04", "04_prior_comparison",
                       {"classes": ["paper:bell_pepper", "imagenette:church", "imagenette:golf_ball"]},
                       "3 of notebook 04's 12 classes (bell pepper, church, golf ball), every method"),
                   Run("05", "05_hidden_unit_attribution", {}, "")]


# --------------------------------------------------------------------------------- the measures
def _class_measures(c: str, method: str = "facet") -> list[Measure]:
    """Notebook 01's goals and ``above_real`` for class ``c`` drawn with ``method`` (facet: the
    figures' runs ``01_<c>``; facet_win: ``01_<c>_win``, in a section of their own)."""
    run, label = run_01(c, method), c.replace("_", " ")
    section = "01 class facets" if method == "facet" else f"01 class facets, {method}"
    label = label if method == "facet" else f"{label} ({method})"
    out = [Measure(f"{label}: {key}", run, f"fidelity.{key}", section, low, high, key in COUNTS)
           for key, (low, high) in CLASS_GOALS.items()]
    out.append(Measure(f"{label}: above_real", run, f"methods[method={method}].above_real", section))
    return out


def measures(smoke: bool = False) -> list[Measure]:
    """Every measure of a claims pass (only those of its runs)."""
    out = [m for c in CLASSES for m in _class_measures(c)]
    out += [m for c in CLASSES for m in _class_measures(c, WIN)]
    out += [Measure("bell pepper: ARI vs the authors' clusters", "01_bell_pepper", "ari_vs_reference",
                    "01 class facets"),
            Measure("movie theater: ARI vs the authors' clusters", "01_movie_theater", "ari_vs_reference",
                    "01 class facets")]
    out += [Measure(f"bell pepper, 1 thread: {m.name.split(': ', 1)[1]}", "01_bell_pepper_1thread", m.path,
                    "threads", m.low, m.high, m.per_k) for m in _class_measures("bell_pepper")]
    out += [Measure("hidden units: facet identity from block3", "02",
                    f"goals.{HIDDEN}.facet_identity_from_block3", "02 hidden units", 0.7),
            Measure("hidden units: share above the strongest real patch", "02",
                    f"goals.{HIDDEN}.above_strongest_real_share", "02 hidden units", 0.9),
            Measure("diversity grows with depth (Spearman)", "02", "spearman_depth_diversity", "02 hidden units"),
            Measure("facet diversity grows with depth", "02", "claims.diversity_grows_with_depth", "02 hidden units",
                    claim="the paper: higher layers' units are more multifaceted"),
            Measure("class units purer than hidden fc units", "02", "claims.class_units_purer_than_hidden_fc",
                    "02 hidden units", claim="the paper: class units' top images are of fewer classes"),
            Measure("snap share, paper method", "03", "by_method.paper.snap_share", "03 interpolation"),
            Measure("snap share, facet method", "03", "by_method.facet.snap_share", "03 interpolation"),
            Measure("the facet method snaps most", "03", "verdict.facet.most_snap", "03 interpolation",
                    claim="the paper: an interpolation snaps to one facet rather than blending"),
            Measure("TV beats blur and L2 on high frequencies", "04", "claims.tv_beats_blur_l2_on_hf.holds",
                    "04 priors", claim="the paper: TV gives fewer high frequencies than blur or L2"),
            Measure("the paper's prior (mfv) has the most natural colours of its era", "04",
                    "claims.mfv_most_natural_colors.holds", "04 priors",
                    claim="the paper: mean-image init with its priors keeps natural colours"),
            Measure("TV and TV + jitter about alike", "04", "claims.tv_about_tv_jitter.holds", "04 priors",
                    claim="ours: jitter adds little to TV on this network"),
            Measure("center bias: fewer fragments, more central", "04",
                    "claims.center_bias_fewer_fragments_more_central.holds", "04 priors",
                    claim="the paper: center-biased regularization gives one central object"),
            Measure("LRP localizes better than deconvolution (AOPC)", "05",
                    "claims.lrp_localizes_better_than_deconv.holds", "05 attribution",
                    claim="the paper (after Samek et al.): LRP's order beats deconvolution's"),
            Measure("one detail shared across a unit's facets", "05", "claims.one_detail_shared_across_facets.holds",
                    "05 attribution", claim="the paper: a hidden unit's facets share one detail")]
    names = {r.name for r in runs(smoke)}
    return [m for m in out if m.run in names]
