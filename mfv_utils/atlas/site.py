"""The static site of an atlas store: ``python -m mfv_utils.atlas site STORE``.

Writes ``STORE/index.html`` and ``STORE/style.css`` (a grid of units, each showing its largest facet,
where its facets' images come from (own-class share or classes spanned) and how many drawn facets
end above the unit's strongest real image, with a search box over unit ids and class names, a sort
and a filter) and ``STORE/units/<unit>/index.html`` (every facet: its
visualization when it was drawn, its real images, its numbers). Plain HTML with relative links
and a few lines of JavaScript for the search: it opens from disk and from any static server
(``python -m http.server``). Units that failed are listed with their reason.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from mfv_utils.atlas.store import atomic_write, check_unit, drawn_above, read_manifest

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.3em} .meta{color:#555;font-size:.9em}
#search{font-size:1em;padding:.3em;width:22em;margin:.6em 0}
.grid{display:flex;flex-wrap:wrap;gap:8px}
.card{width:136px;text-decoration:none;color:#222;font-size:.8em;border:1px solid #ddd;padding:3px}
.card img{width:128px;height:128px;display:block}
.facet{display:flex;align-items:center;gap:10px;margin:6px 0;border-top:1px solid #eee;padding-top:6px}
.facet .viz{width:128px;height:128px} .facet .none{width:128px;height:128px;background:#f3f3f3;
 display:flex;align-items:center;justify-content:center;color:#999;font-size:.8em}
table{border-collapse:collapse;font-size:.85em} td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eee}
.failed{color:#a00}
.warning{background:#fff3cd;border:1px solid #e0b84c;padding:.5em;max-width:60em}
.card.warned{border-color:#e0b84c;background:#fff8e1} .card .warn{color:#9a6700;font-weight:bold}
.controls{margin:.6em 0} .controls select{font-size:1em;margin-right:1em}
"""


def _page(title: str, body: str, root: str) -> str:
    """A page linking the site's one stylesheet (``root``: the relative path to the store)."""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<link rel='stylesheet' href='{root}style.css'></head><body>{body}</body></html>")


def _write(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


def stands_on(record: dict) -> str:
    """One line: which images the unit's facets come from, and how pure they are."""
    share, n = record.get("own_class_share"), record["n_classes"]
    n = f"{n} class" if n == 1 else f"{n} classes"
    if share is None:
        return f"Facets of the unit's top {record['n_top']} pool images, which span {n}."
    source = ("all its class's pool images" if record.get("images") == "own class"
              else f"its top {record['n_top']} pool images (too few of its class in the pool)")
    return f"Facets of {source}: {share:.0%} of them are of its class; they span {n}."


def warning(record: dict) -> str:
    """A plain warning where a class unit's facets stand mostly on other classes' images."""
    if not record.get("mostly_other_classes"):
        return ""
    return (f"<p class='warning'>Warning: only {record['own_class_share']:.0%} of the images behind these facets "
            f"are of the class {html.escape(record['name'] or str(record['unit']))}; the pool holds "
            f"{record.get('own_class_images_in_pool', 0)} of its images. The facets show what else drives this "
            f"unit, not the class's own facets.</p>")


def unit_page(record: dict) -> str:
    title = f"{record['model']} {record['layer']} unit {record['unit']}" + (f" · {record['name']}" if record["name"] else "")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(record[k]))}</td></tr>" for k in
                   ("images", "own_class_share", "own_class_images_in_pool", "k", "k_by_silhouette", "n_top",
                    "n_classes", "class_entropy", "top_act_max", "strongest_real", "strongest_real_path",
                    "above_strongest_real", "facet_identity", "method", "seed") if k in record)
    facets = []
    bar, above = record.get("strongest_real", record["top_act_max"]), drawn_above(record)
    for j, f in enumerate(record["facets"]):
        viz = (f"<img class='viz' src='facet_{j}.jpg' alt='facet {j} visualization'>" if j < record["drawn"]
               else "<div class='none'>not drawn</div>")
        act = (f"activation {f['act_start']:.2f} &rarr; {f['act_end']:.2f} (strongest real image {bar:.2f}: "
               f"{'above' if above[j] else 'below'}); judge identity "
               f"{'yes' if f['judge_identity'] else 'no'}" if "act_end" in f else "")
        facets.append(f"<div class='facet' id='facet-{j}'>{viz}<img src='members_{j}.jpg' alt='facet {j} members'>"
                      f"<div>facet {j}: {f['size']} images<br>{html.escape(f['main_class'] or '')}<br>{act}</div></div>")
    body = (f"<p><a href='../../index.html'>&larr; all units</a></p><h1>{html.escape(title)}</h1>"
            f"{warning(record)}<p class='meta'>{html.escape(stands_on(record))}</p>"
            f"<table>{rows}</table><h2>{len(record['facets'])} facets (largest first)</h2>{''.join(facets)}")
    return _page(title, body, root="../../")


def leaders(record: dict) -> list[str]:
    """The classes that lead a unit's facets (each facet's most common class), largest facet
    first, each once: what a hidden unit's card is named by, since it has no class of its own."""
    return list(dict.fromkeys(f["main_class"] for f in record["facets"] if f.get("main_class")))


def card(u: str, record: dict, thumb: str) -> str:
    """A unit's card in the grid, with what the sort and the filters read (``data-*``). A class
    unit is named and searched by its class; a hidden unit, which has no class of its own, is named
    by the classes leading its largest facets and searched by the class leading each facet."""
    share = record.get("own_class_share")
    flags = drawn_above(record)
    above = sum(flags)
    warned = bool(record.get("mostly_other_classes"))
    stands = (f"own class {share:.0%}" if share is not None else f"{record['n_classes']} classes")
    lead = [] if record["name"] else leaders(record)
    label = f"{u} · " + (record["name"] or "facets: " + ", ".join(lead[:3]))
    words = " ".join(w for w in [u, record["name"], *lead] if w)
    data_ = {"search": words.lower(), "unit": u, "share": "" if share is None else share,
             "classes": record["n_classes"], "identity": record["facet_identity"],
             "above": round(above / len(flags), 4) if flags else 0, "warned": int(warned)}
    attrs = " ".join(f"data-{k}='{html.escape(str(v))}'" for k, v in data_.items())
    return (f"<a class='card{' warned' if warned else ''}' href='units/{u}/index.html' {attrs}>"
            f"<img src='units/{u}/{thumb}' alt='unit {u}'>{html.escape(label)}<br>"
            f"{record['k']} facets · {stands}<br>{above}/{len(flags)} above strongest real"
            + ("<br><span class='warn'>mostly other classes</span>" if warned else "") + "</a>")


def controls(class_atlas: bool) -> str:
    """The grid's sort and filter menus (a class atlas filters by where its facets come from)."""
    sorts = [("unit", "unit"), ("classes", "classes spanned (most first)"), ("identity", "facet identity"),
             ("above", "share of facets above the strongest real image")]
    filters = [("all", "all units"), ("above", "every drawn facet above the strongest real image")]
    if class_atlas:
        sorts.insert(1, ("share", "own-class share"))
        filters[1:1] = [("own", "own-class share at least 80 %"), ("warned", "mostly other classes (warned)")]
    else:
        filters.insert(1, ("multi", "5 or more classes among the top images"))
    def options(pairs):
        return "".join(f"<option value='{v}'>{html.escape(t)}</option>" for v, t in pairs)
    return (f"<div class='controls'><label>sort by <select id='sort'>{options(sorts)}</select></label>"
            f"<label>show <select id='filter'>{options(filters)}</select></label></div>")


# search, filter and sort, applied together on every change (the cards carry their numbers)
SCRIPT = """<script>
const grid=document.getElementById('grid'),cards=[...grid.querySelectorAll('.card')];
const keep={all:c=>true,own:c=>c.dataset.share!==''&&+c.dataset.share>=0.8,warned:c=>c.dataset.warned==='1',
 above:c=>+c.dataset.above===1,multi:c=>+c.dataset.classes>=5};
function apply(){const q=document.getElementById('search').value.trim().toLowerCase();
 const f=keep[document.getElementById('filter').value],key=document.getElementById('sort').value;
 const v=c=>key==='unit'?-c.dataset.unit:+(c.dataset[key]||0);
 cards.slice().sort((a,b)=>v(b)-v(a)||a.dataset.unit-b.dataset.unit).forEach(c=>grid.appendChild(c));
 let n=0;cards.forEach(c=>{const s=(!q||c.dataset.search.includes(q))&&f(c);c.style.display=s?'':'none';n+=s});
 document.getElementById('count').textContent=n;}
['search','filter','sort'].forEach(id=>document.getElementById(id).addEventListener('input',apply));
</script>"""


def write_site(store: str | Path) -> Path:
    """Write the site of ``store``; returns the index path. One-line ValueError if it is no store."""
    store = Path(store)
    manifest = read_manifest(store)
    if manifest is None:
        raise ValueError(f"{store} is not an atlas store (no manifest.json): run python -m mfv_utils.atlas first")
    ident = manifest["identity"]
    cards, failed, class_atlas = [], [], False
    for u, entry in sorted(manifest["units"].items(), key=lambda kv: int(kv[0])):
        folder = store / "units" / u
        if entry["status"] != "done":
            failed.append(f"<li class='failed'>unit {u}: {html.escape(entry.get('reason', 'not done'))}</li>")
            continue
        record, damage = check_unit(folder)
        if record is None:  # never a broken card: listed, and recomputed by the next run
            failed.append(f"<li class='failed'>unit {u}: damaged in the store ({html.escape(damage)}); "
                          f"rerun the atlas to recompute it</li>")
            print(f"warning: {folder}: {damage}; skipped (the next atlas run recomputes it)", file=sys.stderr)
            continue
        _write(folder / "index.html", unit_page(record))
        thumb = "facet_0.jpg" if record["drawn"] else "members_0.jpg"
        cards.append(card(u, record, thumb))
        class_atlas = class_atlas or record.get("own_class_share") is not None
    title = f"Multifaceted atlas: {ident['model']} {ident['layer']}"
    body = (f"<h1>{html.escape(title)}</h1><p class='meta'>{len(cards)} units; each card shows the unit's largest "
            f"facet; a unit's page shows every facet beside its real images. Pool: {ident['pool_size']} images; "
            f"method {html.escape(str(manifest['spec']['method']))}.</p>"
            + (f"<p class='meta'>A class unit's facets come from all its class's images in the pool when the pool "
               f"holds at least {manifest['spec'].get('own_class_min', 50)} of them (the paper's Fig. S4 rule), "
               f"else from its top images; a unit whose images are mostly of other classes is marked.</p>"
               if class_atlas else "")
            + "<input id='search' type='search' placeholder='search unit id or "
            + ("class name" if class_atlas else "a class among its facets") + "'> "
            f"<span class='meta'><span id='count'>{len(cards)}</span> shown</span>"
            f"{controls(class_atlas)}<div class='grid' id='grid'>{''.join(cards)}</div>"
            + (f"<h2>Failed or damaged units</h2><ul>{''.join(failed)}</ul>" if failed else "") + SCRIPT)
    _write(store / "style.css", STYLE)
    index = store / "index.html"
    _write(index, _page(title, body, root=""))
    return index


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mfv_utils.atlas site", description=__doc__.splitlines()[0])
    ap.add_argument("store")
    args = ap.parse_args(argv)
    try:
        index = write_site(args.store)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
