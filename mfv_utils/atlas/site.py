"""The static site of an atlas store: ``python -m mfv_utils.atlas site STORE``.

Writes ``STORE/index.html`` and ``STORE/style.css`` (a grid of units, each showing its largest facet, with a search box
over unit ids and class names) and ``STORE/units/<unit>/index.html`` (every facet: its
visualization when it was drawn, its real images, its numbers). Plain HTML with relative links
and a few lines of JavaScript for the search: it opens from disk and from any static server
(``python -m http.server``). Units that failed are listed with their reason.
"""
from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

from mfv_utils.atlas.store import atomic_write, check_unit, read_manifest

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
"""


def _page(title: str, body: str, root: str) -> str:
    """A page linking the site's one stylesheet (``root``: the relative path to the store)."""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<link rel='stylesheet' href='{root}style.css'></head><body>{body}</body></html>")


def _write(path: Path, text: str) -> None:
    atomic_write(path, text.encode())


def unit_page(record: dict) -> str:
    title = f"{record['model']} {record['layer']} unit {record['unit']}" + (f" · {record['name']}" if record["name"] else "")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(record[k]))}</td></tr>" for k in
                   ("k", "k_by_silhouette", "n_top", "n_classes", "class_entropy", "top_act_max",
                    "above_strongest_real", "facet_identity", "method", "seed"))
    facets = []
    for j, f in enumerate(record["facets"]):
        viz = (f"<img class='viz' src='facet_{j}.jpg' alt='facet {j} visualization'>" if j < record["drawn"]
               else "<div class='none'>not drawn</div>")
        act = (f"activation {f['act_start']:.2f} &rarr; {f['act_end']:.2f}; judge identity "
               f"{'yes' if f['judge_identity'] else 'no'}" if "act_end" in f else "")
        facets.append(f"<div class='facet' id='facet-{j}'>{viz}<img src='members_{j}.jpg' alt='facet {j} members'>"
                      f"<div>facet {j}: {f['size']} images<br>{html.escape(f['main_class'] or '')}<br>{act}</div></div>")
    body = (f"<p><a href='../../index.html'>&larr; all units</a></p><h1>{html.escape(title)}</h1>"
            f"<table>{rows}</table><h2>{len(record['facets'])} facets (largest first)</h2>{''.join(facets)}")
    return _page(title, body, root="../../")


def write_site(store: str | Path) -> Path:
    """Write the site of ``store``; returns the index path. One-line ValueError if it is no store."""
    store = Path(store)
    manifest = read_manifest(store)
    if manifest is None:
        raise ValueError(f"{store} is not an atlas store (no manifest.json): run python -m mfv_utils.atlas first")
    ident = manifest["identity"]
    cards, failed = [], []
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
        label = f"{u}" + (f" · {record['name']}" if record["name"] else "")
        thumb = "facet_0.jpg" if record["drawn"] else "members_0.jpg"
        search = html.escape(f"{u} {record['name'] or ''}".lower())
        cards.append(f"<a class='card' href='units/{u}/index.html' data-search='{search}'>"
                     f"<img src='units/{u}/{thumb}' alt='unit {u}'>{html.escape(label)}<br>"
                     f"{record['k']} facets</a>")
    script = ("<script>document.getElementById('search').addEventListener('input',e=>{const q=e.target.value"
              ".trim().toLowerCase();let n=0;document.querySelectorAll('.card').forEach(c=>{const s=!q||"
              "c.dataset.search.includes(q);c.style.display=s?'':'none';n+=s});"
              "document.getElementById('count').textContent=n;});</script>")
    title = f"Multifaceted atlas: {ident['model']} {ident['layer']}"
    body = (f"<h1>{html.escape(title)}</h1><p class='meta'>{len(cards)} units; each card shows the unit's largest "
            f"facet; a unit's page shows every facet beside its real images. Pool: {ident['pool_size']} images; "
            f"method {html.escape(str(manifest['spec']['method']))}.</p>"
            f"<input id='search' type='search' placeholder='search unit id or class name'> "
            f"<span class='meta'><span id='count'>{len(cards)}</span> shown</span>"
            f"<div class='grid'>{''.join(cards)}</div>"
            + (f"<h2>Failed or damaged units</h2><ul>{''.join(failed)}</ul>" if failed else "") + script)
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
