"""Notebook 06 (Fig. 5 / S2 and S4 from an atlas) executed for real in smoke mode through the
CLI runner: 3 class units (the rule: most pool images first; smoke takes the first two and the
last) into an atlas store, then its site and the two figures from the store, which leave out the
unit whose facets stand mostly on other classes' images."""
import json

from PIL import Image


def test_atlas_figures_and_site(smoke06):
    out, m = smoke06
    assert m["smoke"] and len(m["units"]) == 3 and m["done"] == 3 and m["failed"] == {}
    # the rule: the classes with the most pool images (gas pump 421, church 410 first); smoke adds the
    # last of the 50, a class with a few pool images, whose facets stand on other classes' images
    assert m["units"][:2] == [571, 497]
    own, last = m["classes"][:2], m["classes"][2]
    assert [c["name"] for c in own] == ["gas pump", "church"]
    for c, n in zip(own, (421, 410)):  # all of the class's own pool images, clustered into k facets
        assert c["images"] == "own class" and c["own_class_share"] == 1.0 and c["in_figures"]
        assert c["k"] == 10 and len(c["facet_sizes"]) == 10 and sum(c["facet_sizes"]) == n
    assert last["images"] == "top images" and last["own_class_share"] < 0.5 and not last["in_figures"]
    assert m["flagged"] == {last["name"]: last["own_class_share"]} and m["own_class_units"] == 2
    manifest = json.loads((out / "atlas" / "manifest.json").read_text())
    assert manifest["runs"][-1]["computed"] and 6525 + 2400 < manifest["identity"]["pool_size"] <= 6525 + 2500
    assert (out / "atlas" / "index.html").is_file()
    for u in m["units"]:
        assert (out / "atlas" / "units" / str(u) / "index.html").is_file()
    s4 = Image.open(out / "figS4_four_facets.png")
    fig5 = Image.open(out / "fig5_largest_facets.png")
    assert s4.width > 2.5 * s4.height  # 2 classes (not the flagged one) x (4 facets + 4 real) cells
    assert fig5.width > 1.2 * fig5.height  # one row of 2 cells: the flagged unit is left out (measured 189 x 136)
