import io
import math

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
    assert fig.axes[0].get_xlabel() == "principal component 1"
    with pytest.raises(ValueError, match="D >= 2"):
        plot_latent_scatter(torch.randn(10, 1), torch.zeros(10))


def test_show_grids_draws_one_titled_panel_per_grid():
    from vae_helpers.plotting import show_grids

    fig = show_grids({"a": torch.rand(16, 1, 28, 28), "b": torch.zeros(4, 1, 28, 28)}, nrow=4)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].images[0].get_array().shape == (4 * 30 + 2, 4 * 30 + 2)
    with pytest.raises(ValueError, match="'b'"):
        show_grids({"b": torch.rand(4, 28, 28)})


# --------------------------------------------------------------------------- colours for colour-blind learners
#
# Each digit's colour is simulated as seen with each of the three complete colour-vision deficiencies
# (Machado, Oliveira & Fernandes 2009, "A physiologically-based model for simulation of color vision
# deficiency", IEEE TVCG 15(6), severity 1.0; the matrices act on linear RGB, as in their paper and in the
# colorspacious package), and every pair of the ten colours must stay clearly apart in CIELAB (CIEDE2000).

MACHADO_2009 = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
MIN_DELTA_E = 10.0  # CIEDE2000 between any two digits' colours, for every kind of vision (tab10: 1.3 for protanopia)


def lab_as_seen(colours, deficiency: str | None) -> np.ndarray:
    """CIELAB (D65) ``(N, 3)`` of sRGB colours as a viewer with ``deficiency`` (None: typical vision) sees them."""
    from matplotlib.colors import to_rgb

    srgb = np.array([to_rgb(c) for c in colours])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    if deficiency is not None:
        linear = np.clip(linear @ np.array(MACHADO_2009[deficiency]).T, 0.0, 1.0)
    to_xyz = np.array(
        [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
    )
    xyz = linear @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005) between rows of ``(N, 3)`` CIELAB arrays."""
    L1, a1, b1 = lab1.T
    L2, a2, b2 = lab2.T
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1 * c2 == 0, 0.0, dh)
    d_big_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (L1 + L2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_mean = np.where(
        c1 * c2 == 0,
        h_sum,
        np.where(np.abs(h1 - h2) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)),
    )
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    r_t = (
        -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * 2 * np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7))
    )
    dl, dc, dh_ = (L2 - L1) / s_l, (c2 - c1) / s_c, d_big_h / s_h
    return np.sqrt(dl**2 + dc**2 + dh_**2 + r_t * dc * dh_)


def closest_pair(colours, deficiency: str | None) -> tuple[float, tuple[int, int]]:
    """The smallest CIEDE2000 between two of ``colours`` as seen with ``deficiency``, and which two."""
    lab = lab_as_seen(colours, deficiency)
    i, j = np.triu_indices(len(colours), 1)
    d = delta_e_2000(lab[i], lab[j])
    k = int(d.argmin())
    return float(d[k]), (int(i[k]), int(j[k]))


def test_delta_e_2000_matches_sharma_et_al():
    """Pairs 1, 7, 17 and 25 of the CIEDE2000 test data of Sharma, Wu & Dalal (2005), Table 1."""
    lab1 = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0], [60.2574, -34.0099, 36.2677]])
    lab2 = np.array([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0], [60.4626, -34.1751, 39.4387]])
    np.testing.assert_allclose(delta_e_2000(lab1, lab2), [2.0425, 2.3669, 27.1492, 1.2644], atol=1e-4)


def test_the_simulation_confuses_what_colour_blind_viewers_confuse():
    """tab10's orange and green, far apart for typical vision, merge for protanopia (a red-green
    deficiency) but not for tritanopia (blue-yellow); its orange and pink merge much more for tritanopia."""
    orange, green, pink = "#ff7f0e", "#2ca02c", "#e377c2"
    assert closest_pair([orange, green], None)[0] > 50
    assert closest_pair([orange, green], "protanopia")[0] < 2 < 30 < closest_pair([orange, green], "tritanopia")[0]
    assert closest_pair([orange, pink], "tritanopia")[0] < 10 < 40 < closest_pair([orange, pink], None)[0]


@pytest.mark.parametrize("deficiency", [None, "protanopia", "deuteranopia", "tritanopia"])
def test_digit_colours_stay_apart_for_colour_blind_viewers(deficiency):
    from vae_helpers.plotting import DIGIT_COLOURS

    assert len(set(DIGIT_COLOURS)) == 10
    distance, (a, b) = closest_pair(DIGIT_COLOURS, deficiency)
    assert distance >= MIN_DELTA_E, (
        f"seen with {deficiency or 'typical vision'}, the colours of digits {a} and {b} are only "
        f"{distance:.1f} apart (CIEDE2000; at least {MIN_DELTA_E} needed)"
    )


def test_the_colour_check_rejects_matplotlibs_default_palette():
    """The same check fails for tab10, the palette the scatters used before."""
    import matplotlib.pyplot as plt

    tab10 = plt.get_cmap("tab10").colors
    assert closest_pair(tab10, None)[0] >= MIN_DELTA_E  # fine for typical vision...
    assert min(closest_pair(tab10, d)[0] for d in MACHADO_2009) < MIN_DELTA_E  # ...not for colour-blind viewers


def test_every_digit_scatter_uses_the_colour_blind_safe_colours():
    from matplotlib.colors import to_rgb
    from matplotlib.offsetbox import AnnotationBbox

    from vae_helpers.plotting import DIGIT_COLOURS, plot_codes_with_images, plot_latent_scatter

    labels = torch.arange(40) % 10
    ax = plot_latent_scatter(torch.randn(40, 2), labels).axes[0]
    assert [to_rgb(c.get_facecolor()[0]) for c in ax.collections] == [to_rgb(c) for c in DIGIT_COLOURS]
    assert [to_rgb(h.get_facecolor()[0]) for h in ax.get_legend().legend_handles] == [to_rgb(c) for c in DIGIT_COLOURS]
    assert [t.get_text() for t in ax.texts] == [str(d) for d in range(10)]  # each digit written at its codes' median
    ax = plot_codes_with_images(torch.randn(10, 2), torch.rand(10, 1, 28, 28), labels=labels[:10]).axes[0]
    frames = [a.patch.get_edgecolor() for a in ax.artists if isinstance(a, AnnotationBbox)]
    assert [to_rgb(f) for f in frames] == [to_rgb(c) for c in DIGIT_COLOURS]


def test_latent_scatter_writes_each_digit_at_the_median_of_its_codes():
    from vae_helpers.plotting import plot_latent_scatter

    codes = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 5.0], [10.0, 10.0], [11.0, 12.0], [12.0, 11.0]])
    ax = plot_latent_scatter(codes, torch.tensor([3, 3, 3, 8, 8, 8])).axes[0]
    assert [(t.get_text(), t.get_position()) for t in ax.texts] == [("3", (1.0, 1.0)), ("8", (11.0, 11.0))]
    assert len(plot_latent_scatter(codes, torch.tensor([3, 3, 3, 8, 8, 8]), label_centres=False).axes[0].texts) == 0
    same_place = plot_latent_scatter(
        torch.cat([codes, codes]), torch.tensor([3, 3, 3, 8, 8, 8, 4, 4, 4, 9, 9, 9])
    ).axes[0]
    (x3, y3), (x4, y4) = [t.get_position() for t in same_place.texts[:2]]  # digits 3 and 4: one median
    assert math.hypot((x3 - x4) / 12, (y3 - y4) / 12) >= 0.08 - 1e-6  # written apart, not on top of each other


# --------------------------------------------------------------------------- text in PNG pictures


def test_captions_are_legible_text_of_the_set_size():
    from vae_helpers.plotting import TEXT_PX, side_by_side, text_png

    png = png_bytes(torch.zeros(1, 28, 28), scale=2)
    pictured = side_by_side([png, png], ["first caption", "second"], title="A title")
    pixels = np.asarray(Image.open(io.BytesIO(pictured)).convert("L"))
    assert pixels.shape[1] >= 2 * 56 + 12
    ink_rows = np.nonzero((pixels[: pixels.shape[0] - 56] < 100).any(axis=1))[0]
    # two lines of text (title, captions) whose letters are at least 9 px high, as JupyterLab's own 13 px
    # text is at 100 % zoom ("A" of a 14 px font is 10 px high; of a 9 px font, 7)
    runs = np.split(ink_rows, np.nonzero(np.diff(ink_rows) > 1)[0] + 1)
    assert TEXT_PX >= 13
    assert len(runs) == 2 and all(len(r) >= 9 for r in runs), [len(r) for r in runs]
    wrapped = Image.open(io.BytesIO(text_png(["a few words " * 10], width=200)))
    assert wrapped.width <= 200 + 2 and wrapped.height > 3 * TEXT_PX  # wrapped into several lines


def test_image_grids_never_grow_wider_than_the_output_area():
    """A grid asked for wider than MAX_FIGURE_WIDTH is drawn smaller to fit; a narrow one keeps its scale."""
    from vae_helpers.plotting import MAX_FIGURE_WIDTH, show_grids, show_images

    images = torch.rand(32, 1, 28, 28)
    wide = show_images(images, ncols=16, scale=2.0)
    assert MAX_FIGURE_WIDTH - 0.5 < wide.get_tightbbox().width + 0.2 <= MAX_FIGURE_WIDTH + 0.05
    assert show_images(images[:4], ncols=4, scale=1.5).get_size_inches()[0] == pytest.approx(4 * 1.5 * 1.1)
    grids = show_grids({"a": images, "b": images, "c": images}, scale=1.0)
    assert MAX_FIGURE_WIDTH - 0.5 < grids.get_tightbbox().width + 0.2 <= MAX_FIGURE_WIDTH + 0.05
    assert show_grids({"a": images}, scale=1.0).get_size_inches()[0] == pytest.approx(4.2)


def png_of(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def test_a_long_label_does_not_push_a_grid_past_the_output_area():
    """Jupyter saves a figure's tight bounding box, labels that overhang the first image included: that is what
    must fit."""
    from vae_helpers.plotting import MAX_FIGURE_WIDTH, show_images

    fig = show_images(
        torch.rand(40, 1, 28, 28), ["20-D, uniform in the codes' box, and then some"] + [""] * 39, ncols=10
    )
    png = Image.open(io.BytesIO(png_of(fig)))  # as Jupyter saves it: the tight bounding box, padded
    assert png.width <= MAX_FIGURE_WIDTH * 100 + 2
