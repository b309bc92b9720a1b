"""Local Sphinx extension: a cell's figure caption goes on its image only.

A chapter numbers and captions an output figure with the cell metadata
``"mystnb": {"figure": {"caption": ..., "name": "fig-NN-..."}}``. MyST-NB wraps *every*
display output of that cell in the figure, so a widget cell, whose outputs are the figure
it draws (an image) and then the widget itself (a view that the static site cannot show),
would get two figures with one name (Sphinx: "Duplicate explicit target name") and a
second, empty, captioned box. This extension renders the cell's image outputs inside the
figure and its other outputs without it.
"""

from __future__ import annotations

from myst_nb.sphinx_ import SphinxNbRenderer
from sphinx.application import Sphinx

IMAGES = ("image/png", "image/svg+xml", "image/jpeg", "image/gif")

_original = SphinxNbRenderer._render_nb_cell_code_outputs


def _is_image(output) -> bool:
    return output.get("output_type") in ("display_data", "execute_result") and any(
        mime in output.get("data", {}) for mime in IMAGES
    )


def _render_outputs(self, token, outputs) -> None:
    metadata = token.meta["metadata"]
    figure = metadata.get("mystnb", {}).get("figure")
    if not figure or all(_is_image(o) for o in outputs if "data" in o):
        return _original(self, token, outputs)
    plain = {**metadata, "mystnb": {k: v for k, v in metadata["mystnb"].items() if k != "figure"}}
    for output in outputs:
        if _is_image(output):
            _original(self, token, [output])
        else:
            token.meta["metadata"] = plain
            try:
                _original(self, token, [output])
            finally:
                token.meta["metadata"] = metadata


def setup(app: Sphinx) -> dict:
    SphinxNbRenderer._render_nb_cell_code_outputs = _render_outputs
    return {"parallel_read_safe": True, "parallel_write_safe": True}
