"""Small pieces shared by the explorers: figures and images as PNG bytes, a tile of a contact
sheet, one-line status messages, a table of numbers, and the committed runs an explorer reads."""
from __future__ import annotations

import html
import io
import json
from pathlib import Path

import ipywidgets as W
import matplotlib.pyplot as plt
from PIL import Image


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def blank(side: int = 8) -> bytes:
    """A white placeholder: an Image widget with no bytes shows a broken-image icon."""
    return image_bytes(Image.new("RGB", (side, side), "white"))


def image_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format=fmt)
    return buf.getvalue()


def tile(sheet: Path, row: int, col: int, cell: int, gap: int = 2) -> bytes:
    """One cell of a :func:`plots.contact_sheet` file, as PNG bytes."""
    with Image.open(sheet) as im:
        x, y = col * (cell + gap), row * (cell + gap)
        return image_bytes(im.crop((x, y, x + cell, y + cell)))


def show_error(status: W.HTML, e: Exception | str) -> None:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    status.value = f'<span class="mfv-error" style="color:#b00">error: {html.escape(text)}</span>'


def show_ok(status: W.HTML, text: str) -> None:
    status.value = f'<span class="mfv-status">{html.escape(text)}</span>'


def table(rows: dict) -> str:
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td><b>{html.escape(str(v))}</b></td></tr>"
                    for k, v in rows.items())
    return f'<table class="mfv-numbers">{cells}</table>'


def runs(prefix: str, figures) -> list[Path]:
    """Run folders: those given (a list), or the ones in a figures folder named ``prefix*``."""
    if isinstance(figures, (list, tuple)):
        return [Path(r) for r in figures if (Path(r) / "metrics.json").is_file()]
    return sorted(p.parent for p in Path(figures).glob(f"{prefix}*/metrics.json"))


def load_run(run: Path) -> dict:
    path = Path(run) / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"no figure run in {run} (metrics.json missing): run its notebook first")
    return json.loads(path.read_text())


def empty_app(title: str, message: str) -> W.VBox:
    status = W.HTML()
    show_error(status, message)
    return W.VBox([W.HTML(f"<h3>{html.escape(title)}</h3>"), status])


# ----------------------------------------------------------------------------- notebook 01
