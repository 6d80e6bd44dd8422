"""Users' own data: files and tensors to datasets, their records, and samples written back in the data's own form."""

import numpy as np
import pytest
import torch
from PIL import Image

import pmm_sde as pmm
from pmm_sde.data import from_file, from_tensor, from_text
from pmm_sde.data.dataset import Dataset
from pmm_sde.metrics import ngram_total_variation


def _points(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)) * [2.0, 0.5, 10.0] + [1.0, -3.0, 100.0]


def _sorted_rows(points):
    points = np.asarray(points, dtype=np.float64)
    return points[np.lexsort(points.T[::-1])]


def _write_pngs(folder, images, mode="L"):
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(np.asarray(image, dtype=np.uint8)).convert(mode).save(folder / f"img{i:03d}.png")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".pt", ".csv"])
def test_real_points_are_standardised_and_decode_to_the_file(tmp_path, suffix):
    x = _points()
    path = tmp_path / f"points{suffix}"
    if suffix == ".npy":
        np.save(path, x)
    elif suffix == ".npz":
        np.savez(path, points=x)
    elif suffix == ".pt":
        torch.save(torch.as_tensor(x), path)
    else:
        np.savetxt(path, x, delimiter=",", header="a,b,c", comments="")
    ds = pmm.data.load(str(path), heldout_fraction=0.25, seed=3)
    assert ds.kind == "real" and ds.form == "points" and ds.shape == (3,) and ds.source == str(path)
    assert ds.train.shape == (150, 3) and ds.heldout.shape == (50, 3) and ds.train.dtype == torch.float32
    assert torch.allclose(ds.train.double().mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(ds.train.double().std(0, correction=0), torch.ones(3, dtype=torch.float64), atol=1e-5)
    assert isinstance(ds.family(), pmm.NormalNormal)
    decoded = torch.cat([ds.decode(ds.train), ds.decode(ds.heldout)])
    assert np.allclose(_sorted_rows(decoded), _sorted_rows(x), rtol=1e-6, atol=1e-5)


def test_the_split_follows_the_seed_only(tmp_path):
    x = torch.as_tensor(_points())
    a, b, c = from_tensor(x, seed=1), from_tensor(x, seed=1), from_tensor(x, seed=2)
    assert torch.equal(a.heldout, b.heldout) and not torch.equal(a.heldout, c.heldout)
    assert len(a.heldout) == 20


def test_integer_arrays_are_counts_with_a_prior_at_their_mean(tmp_path):
    counts = np.random.default_rng(0).poisson(4.0, size=(100, 5)).astype(np.int32)
    np.save(tmp_path / "counts.npy", counts)
    ds = from_file(tmp_path / "counts.npy")
    assert ds.kind == "counts" and ds.shape == (5,) and ds.train.dtype == torch.float32
    family = ds.family()
    assert isinstance(family, pmm.GammaPoisson) and float(family.concentration) == 1.0
    assert float(family.rate) == pytest.approx(1 / float(ds.train.double().mean()), rel=1e-6)
    assert torch.equal(ds.decode(ds.train), ds.train)
    real = from_file(tmp_path / "counts.npy", kind="real")
    assert real.kind == "real" and abs(float(real.train.mean())) < 1e-5


def test_a_folder_of_grayscale_pngs_is_counts_in_file_order(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, size=(12, 5, 7))
    _write_pngs(tmp_path / "images", images[:6])
    for i, image in enumerate(images[6:], start=6):  # gray images saved as RGB are accepted
        Image.fromarray(image.astype(np.uint8)).convert("RGB").save(tmp_path / "images" / f"img{i:03d}.png")
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    assert torch.equal(pmm.data.files.read_png_folder(tmp_path / "images"), torch.as_tensor(images))
    ds = from_file(tmp_path / "images", heldout_fraction=0.25)
    assert ds.kind == "counts" and ds.form == "images" and ds.shape == (5, 7) and len(ds.heldout) == 3


def test_text_is_cut_into_sequences_of_characters(tmp_path):
    text = "abcab\nca é" * 10
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    ds = from_file(tmp_path / "corpus.txt", length=10, heldout_fraction=0.2)
    assert ds.kind == "tokens" and ds.form == "text" and ds.vocabulary == "\n abcé" and ds.num_classes == 6
    assert ds.shape == (10,) and ds.train.dtype == torch.int64 and len(ds.train) + len(ds.heldout) == 10
    assert sorted(ds.text(torch.cat([ds.train, ds.heldout]))) == ["abcab\nca é"] * 10
    assert isinstance(ds.family(), pmm.DirichletCategorical) and ds.family().num_classes == 6


def _bad_csv(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    return path


@pytest.mark.parametrize("make, problem", [
    (lambda p: _bad_csv(p, ""), "no rows"),
    (lambda p: _bad_csv(p, "a,b\n1,2\n3\n"), "line 3 has 1 values"),
    (lambda p: _bad_csv(p, "1,2\n3,nan\n"), "line 2 holds NaN"),
    (lambda p: _bad_csv(p, "1,2\n3,x\n"), "line 2 holds a value that is not a number"),
    (lambda p: (np.save(p / "one.npy", np.ones((1, 2))), p / "one.npy")[1], "at least 2 points"),
    (lambda p: (np.save(p / "nan.npy", np.array([[1.0, 2.0], [np.nan, 0.0], [1, 1]])), p / "nan.npy")[1],
     "point 1 holds NaN"),
    (lambda p: (np.save(p / "neg.npy", np.array([[1, 2], [-1, 0]])), p / "neg.npy")[1], "not a count"),
    (lambda p: (np.save(p / "str.npy", np.array([["a"], ["b"]])), p / "str.npy")[1], "expected numbers"),
    (lambda p: (np.savez(p / "two.npz", a=np.ones(3), b=np.ones(3)), p / "two.npz")[1], "exactly one array"),
    (lambda p: (torch.save({"x": 1}, p / "dict.pt"), p / "dict.pt")[1], "one tensor"),
    (lambda p: ((p / "junk.npy").write_bytes(b"\x93NUMPY garbage"), p / "junk.npy")[1], "not a readable .npy"),
    (lambda p: ((p / "latin.txt").write_bytes("caf\xe9".encode("latin-1") * 50), p / "latin.txt")[1], "not UTF-8"),
    (lambda p: ((p / "empty.txt").write_text(""), p / "empty.txt")[1], "is empty"),
    (lambda p: ((p / "short.txt").write_text("ab" * 20), p / "short.txt")[1], "fewer than 2 sequences"),
    (lambda p: ((p / "same.txt").write_text("a" * 100), p / "same.txt")[1], "2 distinct characters"),
    (lambda p: ((p / "noimages").mkdir(), p / "noimages")[1], "no .png images"),
    (lambda p: p / "missing.npy", "no such file"),
])
def test_bad_files_give_one_line_naming_the_file_and_the_problem(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(ValueError) as error:
        from_file(path)
    message = str(error.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_bad_image_folders_name_the_image(tmp_path):
    _write_pngs(tmp_path / "mixed", [np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((5, 4))])
    with pytest.raises(ValueError, match=r"img002.png: is 4x5 pixels, but img000.png is 4x4"):
        from_file(tmp_path / "mixed")
    colour = np.zeros((4, 4, 3), dtype=np.uint8)
    colour[..., 0] = 200
    (tmp_path / "colour").mkdir()
    Image.fromarray(colour).save(tmp_path / "colour" / "red.png")
    with pytest.raises(ValueError, match="red.png: is a colour or transparent image"):
        from_file(tmp_path / "colour")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="x.png: not a readable PNG"):
        from_file(tmp_path / "broken")


def test_bad_arguments_name_the_argument(tmp_path):
    x = torch.as_tensor(_points())
    for fraction in (0, 1, 1.5, -0.1, True, "0.1"):
        with pytest.raises(ValueError, match="heldout_fraction"):
            from_tensor(x, heldout_fraction=fraction)
    with pytest.raises(ValueError, match="kind"):
        from_tensor(x, kind="images")
    with pytest.raises(ValueError, match="integer class indices"):
        from_tensor(x, kind="tokens")
    with pytest.raises(ValueError, match="length"):
        from_text("abcdefgh" * 10, length=0)
    np.save(tmp_path / "p.npy", _points())
    with pytest.raises(ValueError, match="length: applies to text"):
        from_file(tmp_path / "p.npy", length=8)
    with pytest.raises(ValueError, match="float32 range"):
        from_tensor(torch.tensor([[1e300], [0.0], [1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="every training count is 0"):
        from_tensor(torch.zeros(10, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="bool"):
        from_tensor(torch.ones(10, 2, dtype=torch.bool))


def test_a_record_rebuilds_what_sampling_needs(tmp_path):
    for ds in (from_tensor(torch.as_tensor(_points())), from_text("hello world, " * 20, length=8)):
        again = Dataset.from_record(ds.record(), ds.heldout)
        assert again.record() == ds.record()
        assert torch.equal(again.decode(ds.heldout), ds.decode(ds.heldout))
        with pytest.raises(ValueError, match="rebuilt from a checkpoint"):
            again.family()


def test_samples_are_written_in_the_data_s_own_form(tmp_path):
    points = from_tensor(torch.as_tensor(_points()))
    assert pmm.data.write_samples(tmp_path, points.heldout, points) == ["samples.npy"]
    assert np.allclose(np.load(tmp_path / "samples.npy"), points.decode(points.heldout).numpy())
    text = from_text("the cat sat on the mat. " * 10, length=6)
    assert pmm.data.write_samples(tmp_path, text.heldout[:2], text) == ["samples.npy", "samples.txt"]
    written = (tmp_path / "samples.txt").read_text(encoding="utf-8")
    assert written == "".join(f"--- sample {i} ---\n{s}\n" for i, s in enumerate(text.text(text.heldout[:2])))
    images = from_tensor(torch.randint(0, 9, (20, 3, 4)))
    assert pmm.data.write_samples(tmp_path, images.heldout, images) == ["samples.npy", "samples_grid.png"]
    with Image.open(tmp_path / "samples_grid.png") as grid:
        # two 48 x 64 tiles (zoom 16) side by side with a gap of 4 pixels
        assert grid.size == (2 * 64 + 4, 48) and grid.mode == "RGB"
    assert np.load(tmp_path / "samples.npy").dtype == np.int64


def test_image_grid_places_tiles_with_gaps():
    images = torch.arange(5 * 2 * 3, dtype=torch.float64).reshape(5, 2, 3)
    grid = pmm.data.image_grid(images, gap=1)
    assert grid.shape == (2 * 2 + 1, 3 * 3 + 2)
    assert torch.equal(grid[0:2, 4:7], images[1]) and torch.equal(grid[3:5, 0:3], images[3])
    assert torch.isnan(grid[2]).all() and torch.isnan(grid[3:5, 8:11]).all()


def test_ngram_total_variation_closed_forms():
    zeros, ones = torch.zeros(4, 5, dtype=torch.int64), torch.ones(3, 5, dtype=torch.int64)
    assert ngram_total_variation(zeros, ones, 2) == 1.0 and ngram_total_variation(zeros, zeros, 2) == 0.0
    alternating = torch.tensor([[0, 1, 0, 1]])
    # unigrams agree (1/2 each); bigrams of the alternating sequence: 01, 10, 01 against 00, 00, 00 and 11, 11, 11
    mixed = torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1]])
    assert ngram_total_variation(alternating, mixed, 2, order=1) == 0.0
    assert ngram_total_variation(alternating, mixed, 2, order=2) == 1.0
    with pytest.raises(ValueError, match="x must hold integer sequences"):
        ngram_total_variation(torch.zeros(2, 3), ones, 2)
