"""Where the GUI finds recipes to offer: the examples beside the package and under the working
directory, and the demo recipe."""

from __future__ import annotations

from pathlib import Path

import labsyn


def example_recipe_files() -> list[Path]:
    """examples/recipes/*.yaml beside the package and under the cwd, and the demo recipe."""
    roots = [Path(labsyn.__file__).resolve().parent.parent, Path.cwd()]
    found = [p for root in roots for p in sorted((root / "examples" / "recipes").glob("*.y*ml"))]
    found.append(Path(labsyn.__file__).resolve().parent / "demo_recipe.yaml")
    unique: dict[Path, Path] = {}
    for path in found:
        if path.is_file():
            unique.setdefault(path.resolve(), path.resolve())
    return list(unique.values())
