"""Image pairs to match: exhaustive, sequential (each image with its next K), or a file of ``name0 name1`` lines
(hloc's and COLMAP's pairs-file format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def pairs_exhaustive(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every unordered pair once, (names[i], names[j]) with i < j, in order."""
    return [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]


def pairs_sequential(names: Sequence[str], overlap: int = 10) -> list[tuple[str, str]]:
    """Each image with the ``overlap`` images after it (video-like collections)."""
    if overlap < 1:
        raise ValueError(f"sequential overlap must be >= 1, got {overlap}")
    return [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, min(i + 1 + overlap, len(names)))]


def pairs_from_file(path: str | Path, names: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """``name0 name1`` per line (blank lines and ``#`` comments skipped); with ``names``, every name must be one."""
    known = None if names is None else set(names)
    out: list[tuple[str, str]] = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{lineno}: expected 'name0 name1', got {line!r}")
        if known is not None:
            unknown = [p for p in parts if p not in known]
            if unknown:
                raise ValueError(f"{path}:{lineno}: not in the features file: {unknown}")
        out.append((parts[0], parts[1]))
    return out


def pairs_from_spec(spec: str, names: Sequence[str]) -> list[tuple[str, str]]:
    """``exhaustive``, ``sequential`` (K = 10), ``sequential:K``, or a pairs file's path."""
    if spec == "exhaustive":
        return pairs_exhaustive(names)
    if spec == "sequential" or spec.startswith("sequential:"):
        k = spec.partition(":")[2]
        try:
            return pairs_sequential(names, int(k) if k else 10)
        except ValueError as e:
            raise ValueError(f"--pairs {spec!r}: {e}") from None
    if not Path(spec).is_file():
        raise ValueError(f"--pairs {spec!r}: not exhaustive, sequential[:K] or an existing pairs file")
    return pairs_from_file(spec, names)


def write_pairs(pairs: Sequence[tuple[str, str]], path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(f"{a} {b}\n" for a, b in pairs))
    return p
