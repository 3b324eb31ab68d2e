"""What a Lambda function never reads, taken out of its folder before it is zipped.

The bot's charts are PNGs drawn by matplotlib's Agg backend in DejaVu Sans, with no mathtext.
So the bot zip does without: most of fontTools (matplotlib uses it to subset fonts into PDF,
PS and SVG files; drawing imports only its glyph-name list), the other backends, sample data,
toolbar images and every other font, test suites, type stubs and C headers, and Pillow's
codecs that matplotlib never calls (AVIF, WebP, FreeType text, colour management) with the
shared libraries only they load. Fewer fonts also leave matplotlib less to scan at a cold
start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Whole top-level folders; with them go their *.dist-info.
UNUSED_PACKAGES = ("mpl_toolkits",)
# What matplotlib.dviread imports of fontTools, which backend_agg imports; the rest goes.
KEPT_FONTTOOLS = frozenset({"__init__.py", "agl.py", "misc/__init__.py",
                            "misc/loggingTools.py", "misc/textTools.py"})
# Paths under the folder (glob patterns); anything matching is removed.
UNUSED_PATHS = (
    "**/__pycache__",
    "**/tests",
    "**/*.pyi",
    "**/py.typed",
    "**/*.pxd",
    "numpy/f2py",
    "numpy/_pyinstaller",
    "numpy/_core/include",
    "numpy/_core/lib",
    "numpy/random/_examples",
    "matplotlib/mpl-data/sample_data",
    "matplotlib/mpl-data/images",
    "matplotlib/mpl-data/plot_directive",
    "matplotlib/mpl-data/kpsewhich.lua",
    "matplotlib/mpl-data/fonts/afm",
    "matplotlib/mpl-data/fonts/pdfcorefonts",
    "matplotlib/backends/qt_editor",
    "matplotlib/backends/web_backend",
    "PIL/_avif.*",
    "PIL/_webp.*",
    "PIL/_imagingft.*",
    "PIL/_imagingcms.*",
    "PIL/_imagingtk.*",
    "PIL/_imagingmath.*",
    "PIL/_imagingmorph.*",
)
KEPT_FONTS = frozenset({"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
                        "DejaVuSans-BoldOblique.ttf", "LICENSE_DEJAVU",
                        "LastResortHE-Regular.ttf"})  # matplotlib ≥ 3.11 always loads it
KEPT_BACKENDS = frozenset({"__init__.py", "backend_agg.py", "registry.py"})
# Bundled shared libraries (auditwheel's *.libs folders) stay only while something kept loads
# them.
LIBRARY_FOLDERS = ("pillow.libs", "numpy.libs")


def prune(target: Path) -> None:
    """Remove from `target` (an unpacked function) what a running function never reads."""
    for package in UNUSED_PACKAGES:
        for path in [target / package, *target.glob(f"{package.lower()}-*.dist-info"),
                     *target.glob(f"{package}-*.dist-info")]:
            remove(path)
    for pattern in UNUSED_PATHS:
        for path in sorted(target.glob(pattern), reverse=True):
            remove(path)
    fonttools = target / "fontTools"
    for path in sorted(fonttools.rglob("*"), reverse=True) if fonttools.exists() else []:
        if path.is_file() and path.relative_to(fonttools).as_posix() not in KEPT_FONTTOOLS:
            remove(path)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    fonts = target / "matplotlib" / "mpl-data" / "fonts" / "ttf"
    for path in fonts.iterdir() if fonts.exists() else []:
        if path.name not in KEPT_FONTS:
            remove(path)
    backends = target / "matplotlib" / "backends"
    for path in backends.iterdir() if backends.exists() else []:
        if path.name not in KEPT_BACKENDS and not path.name.startswith("_backend_agg."):
            remove(path)
    remove_unloaded_libraries(target)


def remove_unloaded_libraries(target: Path) -> None:
    """Drop bundled libraries no kept binary names (a dynamic dependency is named in its
    loader's string table, so a name not found anywhere is never loaded)."""
    libraries = [path for folder in LIBRARY_FOLDERS for path in (target / folder).glob("*")]
    binaries = [path for path in target.rglob("*.so") if path not in libraries]
    contents = {path: path.read_bytes() for path in binaries + libraries}
    while True:
        unused = [library for library in libraries
                  if not any(library.name.encode() in data
                             for path, data in contents.items() if path != library)]
        if not unused:
            return
        for library in unused:
            remove(library)
            libraries.remove(library)
            del contents[library]


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
