"""Built-in datasets (no downloads at run time): 2-D toys, 8x8 digit counts, a Markov token corpus;
and users' own data from tensors or files (points, counts, PNG images, text).

    ds = pmm.data.load("two_moons", seed=0)
    ds.train, ds.heldout, ds.shape, ds.family(), ds.target
    ds = pmm.data.from_file("points.npy")     # or load("points.npy"); from_tensor(x); from_text(s)
"""

from .dataset import Dataset
from .digits import digit_images, load_digits
from .files import from_file, from_tensor, from_text, image_grid, sample_array, write_sample_views, write_samples
from .markov import MarkovCorpus, load_markov
from .registry import available, load
from .toys import (gaussian_ring, load_checkerboard, load_gaussian_mixture, load_two_moons, sample_checkerboard,
                   sample_two_moons)

__all__ = ["Dataset", "available", "load", "MarkovCorpus", "gaussian_ring", "sample_two_moons",
           "sample_checkerboard", "digit_images", "load_gaussian_mixture", "load_two_moons", "load_checkerboard",
           "load_digits", "load_markov", "from_file", "from_tensor", "from_text", "write_samples", "image_grid",
           "sample_array", "write_sample_views"]
