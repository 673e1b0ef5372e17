import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from vae_helpers.plotting import plot_history, png_bytes, show_images
from vae_helpers.training import History


def test_show_images_draws_each_image_with_its_label():
    images = torch.rand(7, 1, 28, 28)
    fig = show_images(images, labels=torch.arange(7), ncols=4)
    assert isinstance(fig, Figure)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 7
    assert [ax.get_title() for ax in drawn] == [str(i) for i in range(7)]
    np.testing.assert_allclose(drawn[2].images[0].get_array(), images[2, 0].numpy())


def test_show_images_rejects_mismatched_labels_and_colour_images():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        show_images(torch.rand(3, 28, 28), labels=[1, 2])
    with pytest.raises(ValueError, match="must have one channel"):
        show_images(torch.rand(3, 3, 28, 28))


def test_plot_history_draws_one_line_per_metric():
    h = History(epochs=[{"epoch": i, "train_loss": 1.0 / i, "test_loss": 1.2 / i} for i in range(1, 4)])
    fig = plot_history(h, logy=True)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), h["test_loss"])


def test_png_bytes_is_a_crisp_enlarged_png_of_the_image():
    img = torch.rand(1, 28, 28)
    data = png_bytes(img, scale=4)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = np.asarray(Image.open(io.BytesIO(data)))
    assert decoded.shape == (112, 112)
    expected = np.round(img[0].numpy() * 255).astype(np.uint8)
    np.testing.assert_array_equal(decoded[::4, ::4], expected)
    np.testing.assert_array_equal(decoded[1::4, 3::4], expected)  # nearest neighbour: 4x4 blocks


def test_figures_are_not_left_open_in_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    show_images(torch.rand(2, 28, 28))
    plot_history(History(epochs=[{"epoch": 1, "train_loss": 1.0, "test_loss": 1.0}]))
    assert plt.get_fignums() == before


def test_codes_with_images_places_each_image_at_its_code():
    from matplotlib.offsetbox import AnnotationBbox

    from vae_helpers.plotting import plot_codes_with_images

    codes = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
    fig = plot_codes_with_images(codes, torch.rand(3, 1, 28, 28), labels=[0, 1, 1])
    ax = fig.axes[0]
    boxes = [a for a in ax.artists if isinstance(a, AnnotationBbox)]
    assert [tuple(b.xy) for b in boxes] == [tuple(c) for c in codes.tolist()]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plot_codes_with_images(torch.zeros(3, 3), torch.rand(3, 28, 28))


def test_latent_scatter_colours_each_digit():
    from vae_helpers.plotting import plot_latent_scatter

    codes = torch.randn(30, 2)
    labels = torch.arange(30) % 3
    fig = plot_latent_scatter(codes, labels, title="t")
    ax = fig.axes[0]
    assert len(ax.collections) == 3
    np.testing.assert_allclose(ax.collections[1].get_offsets(), codes[labels == 1].numpy())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]


def test_latent_scatter_projects_higher_dimensions_and_rejects_one():
    from vae_helpers.plotting import plot_latent_scatter, project_2d

    g = torch.Generator().manual_seed(0)
    codes = torch.randn(200, 5, generator=g) * torch.tensor([5.0, 0.1, 0.1, 3.0, 0.1])
    xy, note = project_2d(codes)
    assert xy.shape == (200, 2) and "principal components" in note
    assert xy[:, 0].var() > xy[:, 1].var() > 1.0  # the two spread-out directions are kept
    fig = plot_latent_scatter(codes, torch.zeros(200))
    assert "principal component 1" == fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="D >= 2"):
        plot_latent_scatter(torch.randn(10, 1), torch.zeros(10))


def test_show_grids_draws_one_titled_panel_per_grid():
    from vae_helpers.plotting import show_grids

    fig = show_grids({"a": torch.rand(16, 1, 28, 28), "b": torch.zeros(4, 1, 28, 28)}, nrow=4)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].images[0].get_array().shape == (4 * 30 + 2, 4 * 30 + 2)
    with pytest.raises(ValueError, match="'b'"):
        show_grids({"b": torch.rand(4, 28, 28)})
