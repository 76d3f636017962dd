"""Notebook 06 (Fig. 5 / S2 and S4 from an atlas) executed for real in smoke mode through the
CLI runner: 3 class units (the rule: most pool images first) into an atlas store, then its site
and the two figures from the store."""
import json

from PIL import Image


def test_atlas_figures_and_site(smoke06):
    out, m = smoke06
    assert m["smoke"] and len(m["units"]) == 3 and m["done"] == 3 and m["failed"] == {}
    # the rule: the classes with the most pool images (gas pump 421, church 410, golf ball 400)
    assert m["units"] == [571, 497, 574]
    assert [c["name"] for c in m["classes"]] == ["gas pump", "church", "golf ball"]
    for c in m["classes"]:
        assert c["k"] == 10 and len(c["facet_sizes"]) == 10 and sum(c["facet_sizes"]) == 130
    manifest = json.loads((out / "atlas" / "manifest.json").read_text())
    assert manifest["runs"][-1]["computed"] and manifest["identity"]["pool_size"] == 6525
    assert (out / "atlas" / "index.html").is_file()
    for u in m["units"]:
        assert (out / "atlas" / "units" / str(u) / "index.html").is_file()
    s4 = Image.open(out / "figS4_four_facets.png")
    fig5 = Image.open(out / "fig5_largest_facets.png")
    assert s4.width > 2 * s4.height  # 3 classes x (4 facets + 4 real) cells (measured 672 x 294)
    assert fig5.width > 2 * fig5.height  # one row of 10 columns, 3 of them filled
