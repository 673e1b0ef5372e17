"""vae_helpers.attributes (notebook 07): attributes of digit images, and latent directions that change them.

The oracles: polygons and strokes of known geometry (their area, slant, width and stroke width are known
by construction, independently of the moments the attributes use); a direct float64 loop over pixels for
the moments; mirror images and whole-pixel shifts, which change the sign of the slant and nothing else;
synthetic codes whose attribute is a known linear function of the code for the directions."""

import math

import pytest
import torch

from vae_helpers import attributes

SHEARS = [-0.5, -0.35, -0.2, -0.1, 0.0, 0.1, 0.2, 0.35, 0.5]
ANGLES = [0, 10, 20, 30, 40, 45, 50, 60, 70, 80, 90]


def shoelace(vertices):
    """The area of a polygon from its corners, the surveyor's formula."""
    (x0, y0), (x1, y1) = zip(*vertices, strict=True), zip(*[*vertices[1:], vertices[0]], strict=True)
    return abs(sum(a * d - c * b for a, b, c, d in zip(x0, y0, x1, y1, strict=True))) / 2


def all_attributes(images):
    return {name: fn(images) for name, fn in attributes.ATTRIBUTES.items()}


# --------------------------------------------------------------------------- moments


def test_moments_match_a_direct_float64_sum_over_pixels():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 1, 28, 28, generator=g) * (torch.rand(4, 1, 28, 28, generator=g) < 0.3)
    mass, cx, cy, mu20, mu02, mu11 = attributes.moments(images)
    for b in range(len(images)):
        p = images[b, 0].double()
        rows, cols = torch.meshgrid(*[torch.arange(28, dtype=torch.float64)] * 2, indexing="ij")
        m = p.sum()
        x0, y0 = (p * cols).sum() / m, (p * rows).sum() / m
        expected = [
            m,
            x0,
            y0,
            (p * (cols - x0) ** 2).sum() / m,
            (p * (rows - y0) ** 2).sum() / m,
            (p * (cols - x0) * (rows - y0)).sum() / m,
        ]
        for got, want in zip((mass, cx, cy, mu20, mu02, mu11), expected, strict=True):
            assert got.dtype == torch.float64
            assert got[b].item() == pytest.approx(want.item(), rel=1e-10, abs=1e-10)


def test_moments_take_flat_images_and_give_nan_for_an_empty_one():
    image = attributes.bar(3.0, 12.0)
    flat = torch.cat([image.reshape(1, 784), torch.zeros(1, 784)])
    mass, cx, *rest = attributes.moments(flat)
    assert torch.equal(mass[:1], attributes.moments(image[None])[0])
    assert mass[1] == 0 and cx[1].isnan() and all(r[1].isnan() for r in rest)


# --------------------------------------------------------------------------- hand-made images of known geometry


def test_ink_is_the_area_of_the_polygon():
    polygons = [
        [(5.0, 5.0), (20.0, 7.0), (9.0, 22.0)],  # a triangle
        [(6.2, 10.0), (12.0, 4.3), (21.0, 9.0), (22.5, 18.0), (14.0, 23.1), (7.0, 19.0)],  # a hexagon
    ]
    for vertices in polygons:
        got = attributes.ink(attributes.draw_polygon(vertices)[None]).item()
        assert got == pytest.approx(shoelace(vertices), rel=0.01)
    # bars at angles (45 degrees, whose edges run along the diagonals of the sub-pixel grid, is off by up to 3 %)
    for angle in (0, 10, 20, 30, 60, 75, 90):
        for w, length in ((2.0, 12.0), (3.0, 16.0), (4.0, 20.0)):
            got = attributes.ink(attributes.bar(w, length, angle=angle)[None]).item()
            assert got == pytest.approx(w * length, rel=0.01), (angle, w)


def test_slant_and_width_of_sheared_bars():
    """bar(w, 16, shear=s): a parallelogram w wide across, whose rows move s pixels right per pixel up."""
    for w in (2.0, 3.0, 4.0):
        images = torch.stack([attributes.bar(w, 16.0, shear=s) for s in SHEARS])
        slant, width = attributes.slant(images), attributes.width(images)
        # measured: slant within 0.0025 (pixel blur adds 1/12 to the vertical variance), width within 0.32 px
        # (sqrt(w^2 +- 1): the edges' position within a pixel)
        assert (slant.double() - torch.tensor(SHEARS, dtype=torch.float64)).abs().max() < 0.01
        assert (width - w).abs().max() < 0.35


def test_slant_of_a_parallelogram_drawn_corner_by_corner():
    """Without bar(): top edge 4 pixels right of the bottom edge over 16 rows, so 0.25 pixels right per pixel up."""
    right = [(10.0, 22.0), (14.0, 22.0), (18.0, 6.0), (14.0, 6.0)]  # (column, row): the top (row 6) is to the right
    assert attributes.slant(attributes.draw_polygon(right)[None]).item() == pytest.approx(0.25, abs=0.01)
    assert attributes.width(attributes.draw_polygon(right)[None]).item() == pytest.approx(4.0, abs=0.35)


def test_a_stroke_leaning_right_has_positive_slant_and_its_mirror_image_negative():
    bottom_left_to_top_right = torch.tensor([[10.0, 22.0], [18.0, 6.0]])  # (column, row)
    leaning_right = attributes.draw_strokes(bottom_left_to_top_right, width=2.5)[None]
    assert attributes.slant(leaning_right).item() > 0.3
    g = torch.Generator().manual_seed(1)
    images = torch.cat(
        [leaning_right, attributes.bar(3.0, 16.0, shear=-0.3)[None], torch.rand(3, 1, 28, 28, generator=g)]
    )
    mirrored = images.flip(-1)
    before, after = all_attributes(images), all_attributes(mirrored)
    assert torch.allclose(after["slant"], -before["slant"], atol=1e-5)
    for name in ("ink", "width", "thickness"):
        assert torch.allclose(after[name], before[name], rtol=1e-5, atol=1e-5), name


def test_whole_pixel_shifts_change_no_attribute():
    images = torch.stack(
        [
            attributes.bar(3.0, 12.0, shear=0.3),
            attributes.bar(2.5, 14.0, angle=30),
            attributes.draw_strokes(torch.tensor([[10.0, 10.0], [16.0, 12.0], [12.0, 18.0]]), width=2.0),
        ]
    )
    before = all_attributes(images)
    for shift in ((3, 0), (0, -4), (-2, 5)):  # the ink stays clear of the border
        after = all_attributes(images.roll(shift, dims=(2, 3)))
        for name in before:
            assert torch.allclose(after[name], before[name], rtol=1e-5, atol=1e-5), (name, shift)


def test_thickness_of_rectangles_at_every_angle_is_their_width():
    for w in (2.0, 2.5, 3.0, 3.5, 4.0):
        images = torch.stack([attributes.bar(w, 20.0, angle=a) for a in ANGLES])
        error = attributes.thickness(images) - w
        # measured: +0.06 to +0.31 px (the outline's corners are cut, so the perimeter comes out short)
        assert error.abs().max() < 0.35, (w, error)


def test_a_line_twice_as_thick_measures_twice_the_thickness():
    line = torch.tensor([[8.0, 6.0], [20.0, 22.0]])
    for thin in (2.0, 2.25):
        ratio = attributes.thickness(attributes.draw_strokes(line, 2 * thin)[None]) / attributes.thickness(
            attributes.draw_strokes(line, thin)[None]
        )
        assert ratio.item() == pytest.approx(2.0, rel=0.1)  # measured 1.96 for 2 -> 4 pixels
    bars = torch.stack([attributes.bar(w, 18.0, angle=a) for w in (2.0, 4.0) for a in (0, 30, 60)])
    ratio = attributes.thickness(bars[3:]) / attributes.thickness(bars[:3])
    assert ((ratio - 2).abs() < 0.2).all(), ratio


def test_perimeter_of_a_long_rectangle_is_close_to_its_outline():
    for a in (0, 20, 45, 70):
        got = attributes.perimeter(attributes.bar(3.0, 20.0, angle=a)[None]).item()
        assert 2 * (3 + 20) - 2.5 < got <= 2 * (3 + 20) + 0.5  # each corner is cut a little


def test_measure_gives_every_attribute_and_rejects_unknown_names():
    images = torch.stack([attributes.bar(3.0, 14.0, shear=0.2), attributes.bar(2.0, 16.0)])
    got = attributes.measure(images)
    assert set(got) == set(attributes.ATTRIBUTES)
    for name, fn in attributes.ATTRIBUTES.items():
        assert torch.equal(got[name], fn(images))
    with pytest.raises(ValueError):
        attributes.measure(images, ["boldness"])


def test_drawing_rejects_bad_geometry():
    with pytest.raises(ValueError, match="at least 3"):
        attributes.draw_polygon([(0.0, 0.0), (5.0, 5.0)])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        attributes.draw_strokes(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(ValueError):
        attributes.draw_strokes(torch.tensor([[1.0, 2.0], [3.0, 4.0]]), width=0)


# --------------------------------------------------------------------------- directions


def synthetic_codes(n=4000, d=8, seed=0, noise=0.01):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g)
    values = codes @ w + noise * torch.randn(n, generator=g)
    return codes, values, w


def cosine(a, b):
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=0).item()


@pytest.mark.parametrize("method", ["regression", "means"])
def test_direction_recovers_the_weights_of_a_linear_attribute(method):
    codes, values, w = synthetic_codes()
    found = attributes.direction(codes, values, method=method)
    assert found.shape == (8,)
    assert found.norm().item() == pytest.approx(1.0, abs=1e-6)
    assert cosine(found, w) > 0.99


def test_direction_is_a_unit_vector_whatever_the_scale_of_the_values():
    codes, values, w = synthetic_codes(n=500)
    for scale in (1e-3, 1.0, 1e3):
        for method in attributes.DIRECTION_METHODS:
            found = attributes.direction(codes, scale * values, method=method)
            assert found.norm().item() == pytest.approx(1.0, abs=1e-6)
            assert cosine(found, w) > 0.95


@pytest.mark.parametrize("method", ["regression", "means"])
def test_direction_within_labels_removes_an_offset_that_goes_with_the_label(method):
    """Each label shifts the codes along u and the values too (thick 0s, thin 1s): pooled, the direction
    leans towards u; within each label it is w again."""
    codes, values, w = synthetic_codes(n=6000, d=6, seed=3)
    g = torch.Generator().manual_seed(4)
    labels = torch.randint(0, 5, (len(codes),), generator=g)
    u = torch.randn(6, generator=g)
    u = u - (u @ w) / (w @ w) * w  # at right angles to w, so that only the label connects it to the values
    codes = codes + 2.0 * labels[:, None].float() * u / u.norm()
    values = values + 3.0 * w.norm() * labels.float()  # the label's effect on the values, as large as w's
    pooled = attributes.direction(codes, values, method=method)
    within = attributes.direction(codes, values, labels=labels, method=method)
    assert cosine(within, w) > 0.99
    assert cosine(pooled, w) < 0.9
    assert within.norm().item() == pytest.approx(1.0, abs=1e-6)


def test_direction_rejects_bad_inputs_clearly():
    codes, values, _ = synthetic_codes(n=50, d=3)
    with pytest.raises(ValueError, match="one number per code"):
        attributes.direction(codes, values[:-1])
    with pytest.raises(ValueError, match="one number per code"):
        attributes.direction(codes, values[:, None])
    with pytest.raises(ValueError, match="dimensions"):
        attributes.direction(codes[0], values[:1])
    with pytest.raises(ValueError, match="one label per code"):
        attributes.direction(codes, values, labels=torch.zeros(49, dtype=torch.long))
    bad = values.clone()
    bad[7] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        attributes.direction(codes, bad)
    bad_codes = codes.clone()
    bad_codes[3, 1] = float("inf")
    with pytest.raises(ValueError, match="finite"):
        attributes.direction(bad_codes, values)
    with pytest.raises(ValueError, match="do not change"):
        attributes.direction(codes, torch.ones(50))
    with pytest.raises(ValueError):
        attributes.direction(codes, values, method="median")
    with pytest.raises(ValueError):
        attributes.direction(codes, values, method="means", share=0.6)
    with pytest.raises(TypeError):
        attributes.direction(codes.long(), values)


def test_slant_formula_is_minus_mu11_over_mu02():
    """Ties the docstring's formula to the moments (a sign error in either shows up here or above)."""
    g = torch.Generator().manual_seed(5)
    images = torch.rand(3, 1, 28, 28, generator=g)
    _, _, _, mu20, mu02, mu11 = attributes.moments(images)
    assert torch.allclose(attributes.slant(images).double(), -mu11 / mu02, atol=1e-6)
    expected_width = (12 * (mu20 - mu11**2 / mu02)).sqrt()
    assert torch.allclose(attributes.width(images).double(), expected_width, rtol=1e-6)
    assert math.isfinite(attributes.thickness(images).sum().item())
