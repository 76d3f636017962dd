"""Notebook 09 (a hidden-layer atlas of Lite0's ``pool`` units, Fig. S9) executed for real in
smoke mode through the CLI runner: 3 units on the authors' 300 images, their site, the largest
facet of each and the most multifaceted units beside real members."""
import json

from PIL import Image


def test_pool_atlas_figures_site_and_measures(smoke09):
    out, m = smoke09
    assert m["smoke"] and m["units"] == [0, 1, 2] and m["done"] == 3 and m["failed"] == {}
    for r in m["units_detail"]:
        # the paper pool holds two classes: a unit's top 40 images span 1 or 2, and so do its facets' leaders
        assert 1 <= r["facet_classes"] <= r["n_classes"] <= 2
        assert len(r["facet_sizes"]) == 4 and sum(r["facet_sizes"]) == 40 and r["drawn"] == 4
        assert 0 <= r["drawn_above_strongest_real"] <= r["drawn"]
    # Fig. S9's rows: the most multifaceted units first
    order = {r["unit"]: (-r["facet_classes"], -r["n_classes"], r["unit"]) for r in m["units_detail"]}
    assert m["s9_units"] == sorted(order, key=order.get)[:2]
    share = m["drawn_above_strongest_real_share"]
    assert share == sum(r["drawn_above_strongest_real"] for r in m["units_detail"]) / 12
    store = out / "atlas"
    record = json.loads((store / "units" / "0" / "unit.json").read_text())
    assert record["layer"] == "pool" and record["own_class_share"] is None and record["images"] == "top images"
    index = (store / "index.html").read_text()
    # a hidden atlas's cards say how many classes a unit spans; its filter offers the multifaceted units
    assert index.count("class='card") == 3 and " classes<br>" in index and "value='multi'" in index
    assert "value='own'" not in index and "mostly other classes" not in index
    # a hidden unit's card is named by the classes leading its facets, and the search reads them
    lead = [f["main_class"] for f in record["facets"] if f["main_class"]]
    assert lead and f"0 · facets: {lead[0]}" in index
    assert all(c.lower() in index.split("data-unit='0'")[0].rsplit("<a class='card", 1)[1] for c in set(lead))
    largest = Image.open(out / "largest_facets.png")
    s9 = Image.open(out / "figS9_multifaceted.png")
    assert largest.width > 1.5 * largest.height  # one row of 3 cells
    assert s9.width > 2.5 * s9.height  # 2 units x (4 facets + 4 real)
