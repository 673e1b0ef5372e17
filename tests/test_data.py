import re

import pytest
import torch

from vae_helpers import data
from vae_helpers.data import (
    Batches,
    Split,
    examples,
    fixed_test_batch,
    load_mnist,
    load_split,
    split_indices,
)


def synthetic_split(n: int) -> Split:
    """Images whose first pixel is the index (mod 256), labels equal to the index."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(n) % 256
    return Split(images, torch.arange(n))


# ---------------------------------------------------------------- loading real MNIST


def test_splits_have_mnist_shapes_and_types(mnist):
    full = load_mnist()
    assert full.train.images.shape == (60_000, 28, 28) and full.train.images.dtype == torch.uint8
    assert full.test.images.shape == (10_000, 28, 28) and full.test.labels.dtype == torch.int64
    assert full.train.labels.bincount().tolist()[:2] == [5923, 6742]  # the well-known class counts
    assert full.val is None


def test_split_is_read_once_and_cached(mnist):
    assert load_split("test").images is load_split("test").images  # the tensors are kept, not read again


def test_batches_are_float_in_unit_range(mnist):
    batches = mnist.test.batches(batch_size=128, seed=0)
    assert len(batches) == 79  # 10,000 / 128 rounded up
    sizes = []
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28)
        assert x.min() >= 0.0 and x.max() <= 1.0
        sizes.append(len(y))
    assert sizes[-1] == 10_000 % 128 and sum(sizes) == 10_000
    x, _ = next(iter(batches))
    assert x.max() == 1.0  # 255 maps to exactly 1


def test_float_conversion_matches_torchvision_to_tensor(mnist):
    from PIL import Image
    from torchvision.transforms.functional import to_tensor

    x = mnist.test[:3].x()
    expected = torch.stack([to_tensor(Image.fromarray(img.numpy())) for img in mnist.test.images[:3]])
    assert torch.equal(x, expected)


def test_subset_validation_and_test_subset(mnist):
    parts = load_mnist(subset=1000, val_size=500, test_subset=200, seed=3)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (1000, 500, 200)
    again = load_mnist(subset=1000, val_size=500, test_subset=200, seed=3)
    assert torch.equal(parts.train.images, again.train.images) and torch.equal(parts.val.labels, again.val.labels)
    other = load_mnist(subset=1000, val_size=500, seed=4)
    assert not torch.equal(parts.train.images, other.train.images)


@pytest.mark.parametrize("kwargs", [{"subset": 0}, {"subset": 60_001}, {"val_size": 60_000}, {"test_subset": 10_001}])
def test_bad_sizes_raise_clear_errors(mnist, kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        load_mnist(**kwargs)


def test_split_indices_are_disjoint_and_seeded():
    train, val = split_indices(100, val_size=20, subset=50, seed=1)
    assert len(train) == 50 and len(val) == 20
    assert not set(train.tolist()) & set(val.tolist())
    assert torch.equal(train, split_indices(100, 20, 50, seed=1)[0])
    assert not torch.equal(train, split_indices(100, 20, 50, seed=2)[0])
    assert [len(part) for part in split_indices(100)] == [100, 0]  # by default nothing is held out
    for subset in (1, 80):  # from one image to all that the validation split leaves
        assert len(split_indices(100, val_size=20, subset=subset)[0]) == subset
    with pytest.raises(ValueError, match="subset"):
        split_indices(100, val_size=20, subset=81)


# ---------------------------------------------------------------- the batch iterator


def test_each_epoch_visits_every_example_once():
    split = synthetic_split(1000)
    batches = Batches(split, batch_size=64, seed=0)
    for _ in range(2):
        seen = torch.cat([y for _, y in batches])
        assert torch.equal(seen.sort().values, torch.arange(1000))
        # images travel with their labels
    for x, y in batches:
        assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), y % 256)


def test_seeded_order_repeats_and_differs_between_epochs():
    split = synthetic_split(500)

    def two_epochs(seed):
        b = Batches(split, batch_size=50, seed=seed)
        return [torch.cat([y for _, y in b]) for _ in range(2)]

    first, second = two_epochs(7), two_epochs(7)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first[0], first[1])
    assert not torch.equal(first[0], two_epochs(8)[0])


def test_unshuffled_batches_keep_order_and_drop_last():
    split = synthetic_split(10)
    b = Batches(split, batch_size=4, shuffle=False, drop_last=True)
    assert len(b) == 2
    assert torch.equal(torch.cat([y for _, y in b]), torch.arange(8))


def test_batches_reject_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        Batches(synthetic_split(10), batch_size=0)
    with pytest.raises(ValueError, match="drop_last"):
        Batches(synthetic_split(10), batch_size=20, drop_last=True)


# ---------------------------------------------------------------- examples for figures


def test_examples_one_per_class(mnist):
    x, y = examples(mnist.test, 20, one_per_class=True)
    assert x.shape == (20, 1, 28, 28)
    assert y.tolist() == list(range(10)) * 2


def test_fixed_test_batch_is_the_same_every_time(mnist):
    x1, y1 = fixed_test_batch(mnist.test, 16)
    x2, y2 = fixed_test_batch(load_mnist().test, 16)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert set(y1.tolist()) == set(range(10))


def test_course_mnist_is_all_of_mnist_or_fast_modes_subsets(mnist, monkeypatch):

    fast, full = data.course_mnist(True), data.course_mnist(False)
    assert (len(fast.train), len(fast.test)) == (data.FAST_TRAIN_SUBSET, data.FAST_TEST_SUBSET) == (5_000, 2_000)
    assert (len(full.train), len(full.test)) == (60_000, 10_000)
    calls = []
    monkeypatch.setattr(data, "load_mnist", lambda **kwargs: calls.append(kwargs))
    data.course_mnist(True, device="cpu")
    data.course_mnist(False, device="cpu")
    assert calls == [{"subset": 5_000, "test_subset": 2_000, "device": "cpu"}, {"device": "cpu"}]


def test_split_batches_passes_its_options_on():
    split = synthetic_split(10)
    in_order = torch.cat([y for _, y in split.batches(batch_size=4, shuffle=False)])
    assert torch.equal(in_order, torch.arange(10))
    shuffled = torch.cat([y for _, y in split.batches(batch_size=4, shuffle=True, seed=0)])
    assert not torch.equal(shuffled, torch.arange(10)) and torch.equal(shuffled.sort().values, torch.arange(10))
    assert len(split.batches(batch_size=4, drop_last=True)) == 2
    assert len(split.batches(batch_size=4)) == 3
    by_default = torch.cat([y for _, y in synthetic_split(100).batches()])  # shuffled, in one batch of 128
    assert len(synthetic_split(257).batches()) == len(Batches(synthetic_split(257))) == 3  # 128 + 128 + 1
    assert not torch.equal(by_default, torch.arange(100)) and torch.equal(by_default.sort().values, torch.arange(100))


def test_examples_are_a_seeded_choice_of_distinct_images_with_their_labels():
    split = synthetic_split(50)
    x, y = examples(split, 7, seed=3)
    assert x.shape == (7, 1, 28, 28) and y.shape == (7,)
    assert len(set(y.tolist())) == 7  # distinct images
    assert torch.equal((x[:, 0, 0, 0] * 255).round().long(), y)  # each image with its own label
    again, _ = examples(split, 7, seed=3)
    assert torch.equal(x, again)
    assert not torch.equal(y, examples(split, 7, seed=4)[1])
    assert examples(split, 50)[1].sort().values.tolist() == list(range(50))  # n may be the whole split
    assert len(examples(split)[1]) == 10 and examples(per_class_split(1), one_per_class=True)[1].tolist() == list(
        range(10)
    )
    with pytest.raises(ValueError, match="n=51"):
        examples(split, 51)


def per_class_split(k: int) -> Split:
    """Exactly ``k`` images of each digit; the first pixel is the image's index."""
    n = 10 * k
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 0, 0] = torch.arange(n)
    return Split(images, torch.arange(n) % 10)


@pytest.mark.parametrize("n", [3, 10, 17, 30])
def test_examples_one_per_class_uses_every_image_it_may_and_no_more(n):
    split = per_class_split(3)  # 3 of each digit: up to n=30
    x, y = examples(split, n, one_per_class=True)
    assert y.tolist() == [i % 10 for i in range(n)]
    index = (x[:, 0, 0, 0] * 255).round().long()
    assert len(set(index.tolist())) == n and torch.equal(index % 10, y)


@pytest.mark.parametrize("n, short", [(31, [0]), (33, [0, 1, 2]), (40, list(range(10)))])
def test_examples_one_per_class_names_the_digits_that_run_short(n, short):
    with pytest.raises(ValueError, match=re.escape(f"digit(s) {short} for n={n}")):
        examples(per_class_split(3), n, one_per_class=True)


def test_fixed_test_batch_defaults_to_sixteen_starting_with_one_of_each_digit(mnist):
    x, y = fixed_test_batch(mnist.test)
    assert x.shape == (16, 1, 28, 28)
    assert y.tolist() == list(range(10)) + list(range(6))
    assert fixed_test_batch(mnist.test, 10)[1].tolist() == list(range(10))
    assert fixed_test_batch(mnist.test, 4)[1].tolist() != list(range(4))  # below 10: a plain random choice


def test_a_split_indexed_by_one_number_is_that_one_image():
    split = synthetic_split(5)
    assert split[3].labels.tolist() == [3] and split[3].images.shape == (1, 28, 28)
    assert split[-1].labels.tolist() == [4] and split[0].labels.tolist() == [0] and split[-5].labels.tolist() == [0]
    assert split[1:3].labels.tolist() == [1, 2]
    for outside in (5, -6):
        with pytest.raises(IndexError, match=f"index {outside}"):
            split[outside]


def test_batches_refuse_an_empty_split_and_allow_one_full_batch():
    with pytest.raises(ValueError, match="empty"):
        Batches(synthetic_split(0), batch_size=4)
    only = Batches(synthetic_split(8), batch_size=8, drop_last=True)
    assert len(only) == 1 and [len(y) for _, y in only] == [8]


def test_split_to_moves_images_and_labels():
    split = synthetic_split(6)
    moved = split.to("meta")  # a device every machine has; the data itself is not kept there
    assert moved.images.device.type == moved.labels.device.type == "meta" == moved.device.type
    assert moved.images.shape == split.images.shape and moved.labels.shape == split.labels.shape
    assert moved.images.dtype == torch.uint8 and split.device.type == "cpu"


def test_load_split_reads_the_training_set_by_default_and_can_refuse_to_download(tmp_path, mnist):
    assert len(load_split()) == 60_000 and len(load_split("test")) == 10_000
    from vae_helpers.mnist import MNISTNotFoundError

    with pytest.raises(MNISTNotFoundError, match="MISSING"):
        load_split("test", root=tmp_path, download=False)
    assert list(tmp_path.iterdir()) == []  # nothing was fetched


def test_load_mnist_subsets_validation_and_device(mnist):
    assert load_mnist(subset=100).val is None  # no validation split unless asked
    for n in (1, 10_000):  # from one test image to all of them
        assert len(load_mnist(test_subset=n).test) == n
    with pytest.raises(ValueError, match="test_subset=10001"):
        load_mnist(test_subset=10_001)
    one, two = load_mnist(test_subset=50, seed=1).test, load_mnist(test_subset=50, seed=2).test
    assert not torch.equal(one.labels, two.labels) or not torch.equal(one.images, two.images)  # the seed picks them
    on_cpu = load_mnist(subset=100, val_size=10, device="cpu")
    assert on_cpu.train.device.type == on_cpu.val.device.type == on_cpu.test.device.type == "cpu"
    assert len(on_cpu.val) == 10 and len(on_cpu.train) == 100
    assert load_mnist(subset=100, device="cpu").val is None
