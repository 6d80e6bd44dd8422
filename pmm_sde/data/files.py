"""Users' own data: ``from_tensor``, ``from_text`` and ``from_file`` build a ``Dataset``;
``write_samples`` writes samples back in the data's own form.

Files, by what they hold:

- ``.npy``, ``.npz`` (one array) and ``.pt`` (one tensor): floating arrays ``(n, *shape)`` are real
  points (Normal-Normal), integer arrays are counts (Gamma-Poisson);
- ``.csv``: rows of numbers, an optional header line first: real points;
- a folder of grayscale PNG images of one size: pixel counts (Gamma-Poisson);
- any other file: UTF-8 text, cut into sequences of ``length`` characters (Dirichlet-Categorical).

``kind`` ("real", "counts", "tokens") overrides what the data suggest. Real points are
standardised, per coordinate for vectors and pooled for images: the family sees
``(x - offset) / scale`` with the training split's mean and standard deviation, and the prior
``N(0, 1)``. Counts get the prior ``Gamma(1, 1 / m)``, ``m`` the training split's mean count. A
fraction ``heldout_fraction`` of the points (sequences, for text) drawn from ``seed`` is held out.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from ..families import DirichletCategorical, GammaPoisson, NormalNormal
from .dataset import KINDS, STRUCTURE_STREAM, Dataset, seeded_generator, validate_seed

ARRAY_SUFFIXES = (".npy", ".npz", ".pt", ".csv")
DEFAULT_HELDOUT_FRACTION = 0.1
DEFAULT_TEXT_LENGTH = 32
#: Counts above 2^24 are not exact in float32, the training data's dtype.
MAX_COUNT = 2 ** 24
#: Tiles of an image grid are enlarged to at least this many pixels a side; grids hold at most 64 tiles.
GRID_TILE_PIXELS, GRID_TILES = 48, 64
#: The colour between tiles (RGB), distinct from every gray level.
GRID_GAP_COLOUR = (135, 170, 222)


def from_tensor(points, kind: str | None = None, name: str = "tensor", heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
                seed: int = 0, vocabulary: str | None = None, source: str | None = None) -> Dataset:
    """A ``Dataset`` of ``points`` ``(n, *shape)`` (tensor or array): real points when floating,
    counts when integer, token indices ``(n, L)`` with ``kind="tokens"`` (classes ``0..K-1``,
    ``K = len(vocabulary)`` or the largest index plus one)."""
    points = _as_tensor(points, name)
    kind = _kind(kind, points, name)
    if points.dim() == 1 and kind != "tokens":
        points = points[:, None]
    if points.dim() < 2 or points.shape[0] < 2 or 0 in points.shape:
        raise ValueError(f"{name}: needs at least 2 points of shape (n, *shape) with no empty axis, "
                         f"got shape {tuple(points.shape)}")
    bad = ~torch.isfinite(points).reshape(points.shape[0], -1).all(1) if points.is_floating_point() else None
    if bad is not None and bool(bad.any()):
        raise ValueError(f"{name}: point {int(bad.nonzero()[0])} holds NaN or inf")
    seed = validate_seed(seed)
    train_index, heldout_index = _split(points.shape[0], heldout_fraction, seed, name)
    shape = tuple(points.shape[1:])
    form = "images" if len(shape) >= 2 else "points"
    if kind == "tokens":
        tokens, num_classes = _tokens(points, vocabulary, name)
        return Dataset(name=name, kind=kind, form="text" if vocabulary is not None else "tokens", shape=shape,
                       train=tokens[train_index], heldout=tokens[heldout_index], num_classes=num_classes,
                       vocabulary=vocabulary, source=source,
                       make_family=lambda: DirichletCategorical(num_classes),
                       description=f"{name}: {points.shape[0]} sequences of {shape[0]} tokens, {num_classes} classes")
    if vocabulary is not None:
        raise ValueError(f"{name}: a vocabulary goes with kind 'tokens', not {kind!r}")
    if kind == "counts":
        counts = _counts(points, name)
        train = counts[train_index]
        mean = float(train.double().mean())
        if mean == 0:
            raise ValueError(f"{name}: every training count is 0; counts need some positive values")
        return Dataset(name=name, kind=kind, form=form, shape=shape, train=train, heldout=counts[heldout_index],
                       source=source, make_family=lambda: GammaPoisson(1.0, 1.0 / mean),
                       description=f"{name}: {points.shape[0]} count arrays of shape {shape}, mean count {mean:.4g}")
    values = points.to(torch.float64)
    if bool((values.abs() > torch.finfo(torch.float32).max).any()):
        raise ValueError(f"{name}: values beyond the float32 range ({torch.finfo(torch.float32).max:.3g})")
    train = values[train_index]
    axes = 0 if len(shape) == 1 else tuple(range(train.dim()))
    offset = train.mean(axes)
    scale = train.std(axes, correction=0)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    standardise = lambda x: ((x - offset) / scale).to(torch.float32)  # noqa: E731
    return Dataset(name=name, kind=kind, form=form, shape=shape, train=standardise(train),
                   heldout=standardise(values[heldout_index]), offset=offset.to(torch.float32),
                   scale=scale.to(torch.float32), source=source, make_family=lambda: NormalNormal(0.0, 1.0),
                   description=f"{name}: {points.shape[0]} real points of shape {shape}, standardised")


def from_text(text: str, length: int = DEFAULT_TEXT_LENGTH, name: str = "text",
              heldout_fraction: float = DEFAULT_HELDOUT_FRACTION, seed: int = 0, source: str | None = None) -> Dataset:
    """Tokens from ``text``: consecutive, non-overlapping sequences of ``length`` characters over the
    vocabulary of its distinct characters (sorted); a remainder shorter than ``length`` is dropped."""
    if not isinstance(text, str):
        raise ValueError(f"{name}: text must be a str, got {type(text).__name__}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an integer >= 1, got {length!r}")
    vocabulary = "".join(sorted(set(text)))
    if len(vocabulary) < 2:
        raise ValueError(f"{name}: text needs at least 2 distinct characters, got {len(vocabulary)}")
    sequences = len(text) // length
    if sequences < 2:
        raise ValueError(f"{name}: {len(text)} characters make fewer than 2 sequences of length {length}; "
                         f"use a longer text or a smaller length")
    index = {character: k for k, character in enumerate(vocabulary)}
    tokens = torch.tensor([index[c] for c in text[: sequences * length]], dtype=torch.int64).reshape(sequences, length)
    return from_tensor(tokens, "tokens", name, heldout_fraction, seed, vocabulary, source)


def from_file(path: str | os.PathLike, kind: str | None = None, heldout_fraction: float = DEFAULT_HELDOUT_FRACTION,
              seed: int = 0, length: int | None = None) -> Dataset:
    """A ``Dataset`` read from ``path`` (see the module for the formats); ``length`` is the sequence
    length of text data (default ``DEFAULT_TEXT_LENGTH``). Errors name the file and the problem."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or a path, got {type(path).__name__}")
    path = Path(path)
    name = path.name or str(path)
    if path.is_dir():
        points, source_kind = read_png_folder(path), "counts"
    elif not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    elif path.suffix.lower() in ARRAY_SUFFIXES:
        points, source_kind = read_array(path), None
    else:
        text = read_text(path)
        if kind not in (None, "tokens"):
            raise ValueError(f"{path}: text data are tokens, not {kind!r}")
        return _naming_the_file(path, name, lambda: from_text(text, DEFAULT_TEXT_LENGTH if length is None else length,
                                                               name, heldout_fraction, seed, str(path)))
    if length is not None:
        raise ValueError(f"length: applies to text data, and {path} holds an array")
    return _naming_the_file(path, name, lambda: from_tensor(points, kind or source_kind, name, heldout_fraction, seed,
                                                            source=str(path)))


def _naming_the_file(path: Path, name: str, build):
    """``build()``, with a data error's leading ``name`` replaced by the file's path."""
    try:
        return build()
    except ValueError as error:
        message = str(error)
        raise ValueError(f"{path}: {message.removeprefix(f'{name}: ')}") from None


def read_array(path: Path) -> torch.Tensor:
    """The array in a ``.npy``, ``.npz`` (exactly one array), ``.pt`` (one tensor) or ``.csv`` file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    try:
        if suffix == ".pt":
            value = torch.load(path, map_location="cpu", weights_only=True)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                value = {key: archive[key] for key in archive.files}
        else:
            value = np.load(path, allow_pickle=False)
    except Exception as error:  # numpy, zipfile and pickle raise many types for a corrupt file
        reason = str(error).strip().splitlines()[0][:100] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path}: not a readable {suffix} file ({reason})") from None
    if isinstance(value, dict) and suffix == ".npz":
        if len(value) != 1:
            raise ValueError(f"{path}: a .npz must hold exactly one array, found {sorted(value)}")
        value = next(iter(value.values()))
    if suffix == ".pt" and not torch.is_tensor(value):
        raise ValueError(f"{path}: a .pt file must hold one tensor, found {type(value).__name__}")
    return _as_tensor(value, str(path))


def _read_csv(path: Path) -> torch.Tensor:
    rows, width = [], None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            try:
                values = [float(cell) for cell in cells]
            except ValueError:
                if not rows and width is None:
                    width = len(cells)
                    continue
                raise ValueError(f"{path}: line {line} holds a value that is not a number: {row}") from None
            if width is not None and len(values) != width:
                raise ValueError(f"{path}: line {line} has {len(values)} values, earlier lines {width}")
            width = len(values)
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{path}: line {line} holds NaN or inf")
            rows.append(values)
    if not rows:
        raise ValueError(f"{path}: holds no rows of numbers")
    return torch.tensor(rows, dtype=torch.float64)


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: is not UTF-8 text (byte {error.start}); arrays are read from "
                         f"{', '.join(ARRAY_SUFFIXES)} files, images from a folder of PNG files") from None
    if not text:
        raise ValueError(f"{path}: is empty")
    return text


def read_png_folder(path: Path) -> torch.Tensor:
    """The grayscale PNG images of a folder, in file-name order, as int64 counts ``(n, H, W)``."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise ValueError(f"{path}: holds no .png images")
    images, size = [], None
    for file in files:
        try:
            with Image.open(file) as image:
                image.load()
                pixels = _gray_pixels(image, file)
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(f"{file}: not a readable PNG image ({type(error).__name__})") from None
        if size is None:
            size = pixels.shape
        elif pixels.shape != size:
            raise ValueError(f"{file}: is {pixels.shape[1]}x{pixels.shape[0]} pixels, but {files[0].name} is "
                             f"{size[1]}x{size[0]}; images must share one size")
        images.append(pixels)
    return torch.as_tensor(np.stack(images))


def _gray_pixels(image, file: Path) -> np.ndarray:
    """Pixel values of a grayscale image (modes 1, L, I;16, I); an RGB(A) image passes when its
    three channels are equal and it is opaque."""
    if image.mode in ("1", "L", "I", "I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.int64)
    rgba = np.asarray(image.convert("RGBA")).astype(np.int64)
    if not ((rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all() and (rgba[..., 3] == 255).all()):
        raise ValueError(f"{file}: is a colour or transparent image (mode {image.mode}); counts come from grayscale PNGs")
    return rgba[..., 0]


def _as_tensor(points, name: str) -> torch.Tensor:
    if torch.is_tensor(points):
        tensor = points.detach().cpu()
    else:
        array = np.asarray(points)
        if array.dtype.kind in "iu":
            array = array.astype(np.int64)
        elif array.dtype.kind == "f":
            array = array.astype(np.float64)
        elif array.dtype.kind != "b":
            raise ValueError(f"{name}: holds {array.dtype} values; expected numbers")
        tensor = torch.as_tensor(array)
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f"{name}: holds {tensor.dtype} values; expected real numbers or integer counts")
    return tensor


def _kind(kind: str | None, points: torch.Tensor, name: str) -> str:
    if kind is None:
        return "real" if points.is_floating_point() else "counts"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "tokens" and points.is_floating_point():
        raise ValueError(f"{name}: tokens must be integer class indices, got {points.dtype}")
    return kind


def _split(n: int, heldout_fraction: float, seed: int, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A permutation of ``0..n-1`` from ``seed``: the first ``n - m`` for training, the last ``m = round(f n)`` held out."""
    if isinstance(heldout_fraction, bool) or not isinstance(heldout_fraction, (int, float)) \
            or not 0 < heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be a number in (0, 1), got {heldout_fraction!r}")
    heldout = max(1, round(heldout_fraction * n))
    if heldout >= n:
        raise ValueError(f"{name}: {n} points leave none for training with heldout_fraction {heldout_fraction}")
    order = torch.randperm(n, generator=seeded_generator(seed, STRUCTURE_STREAM))
    return order[: n - heldout], order[n - heldout:]


def _counts(points: torch.Tensor, name: str) -> torch.Tensor:
    flat = points.reshape(points.shape[0], -1)
    bad = ~((flat >= 0) & (flat <= MAX_COUNT) & (flat == flat.round() if points.is_floating_point() else True)).all(1)
    if bool(bad.any()):
        raise ValueError(f"{name}: point {int(bad.nonzero()[0])} holds a value that is not a count "
                         f"(an integer in 0..{MAX_COUNT}); real values go with kind 'real'")
    return points.to(torch.float32)


def _tokens(points: torch.Tensor, vocabulary: str | None, name: str) -> tuple[torch.Tensor, int]:
    if points.dim() != 2:
        raise ValueError(f"{name}: tokens must have shape (n, L), got {tuple(points.shape)}")
    if vocabulary is not None and (not isinstance(vocabulary, str) or len(set(vocabulary)) != len(vocabulary)):
        raise ValueError("vocabulary must be a str of distinct characters")
    num_classes = len(vocabulary) if vocabulary is not None else int(points.max()) + 1
    if num_classes < 2:
        raise ValueError(f"{name}: tokens need at least 2 classes, got {num_classes}")
    if bool(((points < 0) | (points >= num_classes)).any()):
        raise ValueError(f"{name}: token indices must lie in 0..{num_classes - 1}")
    return points.to(torch.int64), num_classes


def image_grid(images: torch.Tensor, columns: int | None = None, gap: int = 1) -> torch.Tensor:
    """Images ``(m, H, W)`` (or ``(m, C, H, W)``: the first channel) tiled row by row, ``columns``
    a row (default ``ceil(sqrt m)``), separated by ``gap`` pixels of NaN; float64."""
    images = images[:, 0] if images.dim() == 4 else images
    count, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = torch.full((rows * (height + gap) - gap, columns * (width + gap) - gap), float("nan"), dtype=torch.float64)
    for k in range(count):
        top, left = (k // columns) * (height + gap), (k % columns) * (width + gap)
        grid[top:top + height, left:left + width] = images[k].double()
    return grid


def write_image_grid(path: Path, images: torch.Tensor, low: float, high: float) -> None:
    """A PNG of the first ``GRID_TILES`` images, tiles separated by ``GRID_GAP_COLOUR``: values
    mapped linearly from ``[low, high]`` to gray levels 0..255 (values outside are shown at the
    ends), tiles enlarged to at least ``GRID_TILE_PIXELS`` pixels a side."""
    from PIL import Image

    images = images[:GRID_TILES]
    zoom = max(1, math.ceil(GRID_TILE_PIXELS / images.shape[-2]))
    tiles = images.double().repeat_interleave(zoom, -1).repeat_interleave(zoom, -2)
    grid = image_grid(tiles, gap=max(2, zoom // 4))
    gray = ((grid - low) / (high - low if high > low else 1.0)).clamp(0, 1) * 255
    gap = torch.isnan(grid)[..., None]
    rgb = torch.where(gap, torch.tensor(GRID_GAP_COLOUR, dtype=torch.float64), gray[..., None].expand(*gray.shape, 3))
    Image.fromarray(rgb.round().to(torch.uint8).numpy(), mode="RGB").save(path)


def sample_array(samples: torch.Tensor, dataset: Dataset) -> np.ndarray:
    """``samples`` (as the family sees data: standardised points, counts, token indices) in the
    data's own form, as ``samples.npy`` holds them: float32 points in the user's units, int64
    counts or token indices."""
    return dataset.decode(samples.cpu()).numpy().astype(np.int64 if dataset.kind != "real" else np.float32)


def write_sample_views(out: Path, arrays: Iterable[np.ndarray], dataset: Dataset) -> list[str]:
    """The views of samples that the data's form asks for, from ``arrays``, consecutive runs of
    samples in the data's own form (``sample_array``), read one at a time: ``samples.txt`` (each
    sample after a ``--- sample i ---`` line) for text; ``samples_grid.png`` of the first
    ``GRID_TILES`` samples for images. Returns the names written."""
    out = Path(out)
    if dataset.form == "text":
        with open(out / "samples.txt", "w", encoding="utf-8") as text:
            first = 0
            for array in arrays:
                text.writelines(f"--- sample {first + i} ---\n{sample}\n"
                                for i, sample in enumerate(dataset.text(array)))
                first += len(array)
        return ["samples.txt"]
    if dataset.form == "images":
        tiles, held = [], 0
        for array in arrays:
            tiles.append(torch.from_numpy(array[: GRID_TILES - held]))
            held += len(tiles[-1])
            if held == GRID_TILES:
                break
        reference = dataset.decode(dataset.heldout)
        write_image_grid(out / "samples_grid.png", torch.cat(tiles), float(reference.min()), float(reference.max()))
        return ["samples_grid.png"]
    return []


def write_samples(out: Path, samples: torch.Tensor, dataset: Dataset) -> list[str]:
    """Write ``samples`` (as the family sees data: standardised points, counts, token indices) in
    the data's own form into ``out``: ``samples.npy`` always (``sample_array``: points in the
    user's units, counts, token indices), and the views of ``write_sample_views`` (``samples.txt``
    for text, ``samples_grid.png`` for images). Returns the names written."""
    out = Path(out)
    array = sample_array(samples, dataset)
    np.save(out / "samples.npy", array)
    return ["samples.npy"] + write_sample_views(out, [array], dataset)
