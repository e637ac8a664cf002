"""What every figure of the package shares: matplotlib on demand, a font with Japanese, PNGs written whole.

matplotlib is an optional extra (`pip install -e '.[plot]'`), so it is imported only when a figure is
drawn, and its absence is a one-line message, never a traceback. Figures are drawn on the Agg canvas
directly: no display is needed, and pyplot's global state is left alone.

Japanese labels need a font that has Japanese glyphs; matplotlib's own DejaVu Sans has none and would
draw every kanji and kana as an empty box. `japanese_text` finds an installed one, or says in one line
how to install one.
"""
from __future__ import annotations

import contextlib
import functools
import io
import sys
import warnings
from pathlib import Path
from typing import Iterator

from seq2seq.errors import UserError
from seq2seq.model_folder import write_atomic

MATPLOTLIB_MISSING = "matplotlib is not installed: pip install matplotlib (or pip install -e '.[plot]')"
NO_JAPANESE_FONT = ("note: no installed font has Japanese characters, so they are drawn as empty boxes; "
                    "install one (Debian/Ubuntu: sudo apt install fonts-noto-cjk; macOS and Windows ship "
                    "one) and draw again")
# Families known to cover Japanese, tried first; any other installed font is checked glyph by glyph after.
JAPANESE_FAMILIES = ("Noto Sans CJK JP", "Noto Sans JP", "IPAGothic", "IPAexGothic", "TakaoGothic",
                     "VL Gothic", "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic", "MS Gothic")
JAPANESE_PROBES = "あ漢"  # a kana and a kanji: a font holding both has Japanese
# matplotlib ships this one: it maps every character to a placeholder box, so it "has" Japanese
# but shows none.
CATCH_ALL_FONT = "Last Resort"
LATIN_FONT = "DejaVu Sans"  # matplotlib's own default: Latin letters and symbols (⟨ ⟩, ▁), no Japanese


class MatplotlibMissing(UserError):
    """Raised when a figure is asked for and matplotlib is not installed."""


def require_matplotlib() -> None:
    """Raise MatplotlibMissing, whose message says how to install it, when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401 (imported only to see whether it can be)
    except ImportError:
        raise MatplotlibMissing(MATPLOTLIB_MISSING) from None


def new_figure(width: float, height: float):
    """An empty matplotlib Figure on the Agg canvas, `width` × `height` inches; MatplotlibMissing
    without it."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path: str | Path, dpi: int = 120) -> Path:
    """Render `figure` as a PNG into memory, then write it to `path` atomically (a temporary file, then a
    rename), so a failed run never leaves half an image. A path that cannot be written is a UserError."""
    path = Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as err:
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write the figure ({err.strerror})") from None
    return path


@contextlib.contextmanager
def japanese_text() -> Iterator[None]:
    """Inside this block, figures draw the characters DejaVu Sans lacks with an installed Japanese font.
    Without one, one line on stderr says how to install one, and the figure is still drawn.

    Draw and save inside the block: matplotlib looks fonts up when it renders, not when text is added.
    """
    import matplotlib

    font = japanese_font()
    if font is None:
        print(NO_JAPANESE_FONT, file=sys.stderr)
    # A list of families: each character is drawn with the first that has it, so Latin letters and
    # symbols keep matplotlib's usual font and kana and kanji come from the Japanese one.
    settings = {"font.family": [LATIN_FONT] + ([font] if font else []), "axes.unicode_minus": False}
    with matplotlib.rc_context(settings), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")  # said once above, not per glyph
        yield


@functools.lru_cache(maxsize=1)
def japanese_font() -> str | None:
    """The family name of an installed font with Japanese glyphs (a known family first), or None."""
    fonts = sorted(installed_fonts().items(), key=lambda item: family_rank(item[1]))
    return next((family for path, family in fonts if has_japanese(path)), None)


def installed_fonts() -> dict[str, str]:
    """Every font file matplotlib can use, path → family name.

    matplotlib caches its list of fonts and does not look again by itself, so a font installed after the
    cache was made (`apt install fonts-noto-cjk` after a first plot) is added to it here.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    listed = {entry.fname for entry in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in listed:
            with contextlib.suppress(OSError, RuntimeError, ValueError):  # a file FreeType cannot read
                manager.addfont(path)
    return {entry.fname: entry.name for entry in manager.ttflist if not entry.name.startswith(CATCH_ALL_FONT)}


def family_rank(family: str) -> int:
    """A known Japanese family's place in JAPANESE_FAMILIES; any other font after them."""
    return JAPANESE_FAMILIES.index(family) if family in JAPANESE_FAMILIES else len(JAPANESE_FAMILIES)


def has_japanese(font_file: str) -> bool:
    """Whether the font file maps a kana and a kanji to glyphs (its character map has both)."""
    from matplotlib.ft2font import FT2Font

    try:
        characters = FT2Font(font_file).get_charmap()  # code point → glyph index
    except (OSError, RuntimeError, ValueError):  # unreadable, or a format FreeType refuses
        return False
    return all(ord(char) in characters for char in JAPANESE_PROBES)
