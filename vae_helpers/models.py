"""The networks of notebooks 01-05, each first built in the open by the notebook that introduces it.

The versions here are the same code, promoted so later notebooks can reuse it (the notebook and the
tests check that both agree).

Decoders return logits: the loss applies the sigmoid inside a numerically stable formula.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from . import checks

# The activation between fully connected layers. SiLU, x * sigmoid(x), is a smooth ReLU; with it the VAE of
# notebook 04 reaches a test loss about a nat lower in the same training time (benchmarks/README.md).
ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU}


def mlp(dims: Sequence[int], activation: str = "silu") -> nn.Sequential:
    """Linear layers ``dims[0] -> dims[1] -> ...``, each followed by the activation (``"silu"`` or ``"relu"``)."""
    layers: list[nn.Module] = []
    for d_in, d_out in itertools.pairwise(dims):
        layers += [nn.Linear(d_in, d_out), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def _mlp_sizes(
    latent_dim: int, hidden_dims: Sequence[int], input_shape: Sequence[int], activation: str
) -> tuple[dict, tuple, int]:
    """Checked sizes of a fully connected model: its ``config``, ``input_shape`` and flat input size."""
    checks.count("latent_dim", latent_dim)
    hidden_dims = checks.sizes("hidden_dims", hidden_dims)
    input_shape = checks.sizes("input_shape", input_shape)
    checks.choice("activation", activation, ACTIVATIONS)
    config = {
        "latent_dim": latent_dim,
        "hidden_dims": list(hidden_dims),
        "input_shape": list(input_shape),
        "activation": activation,
    }
    return config, tuple(input_shape), math.prod(input_shape)


class MLPVAE(nn.Module):
    """A fully connected variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114).

    With the defaults it is the classic PyTorch example, 784-400-20: the encoder maps an image to the
    mean ``mu`` and log-variance ``logvar`` of a Gaussian over the latent code ``z``; the decoder maps
    ``z`` back to pixel logits.
    Introduced in notebook 04.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dims: Sequence[int] = (400,),
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "silu",
    ):
        super().__init__()
        self.config, self.input_shape, input_dim = _mlp_sizes(latent_dim, hidden_dims, input_shape, activation)
        self.encoder = mlp([input_dim, *hidden_dims], activation)
        self.to_mu = nn.Linear(hidden_dims[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden_dims[-1], latent_dim)
        self.decoder = nn.Sequential(
            mlp([latent_dim, *reversed(hidden_dims)], activation), nn.Linear(hidden_dims[0], input_dim)
        )

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, C, H, W)`` (or flat ``(B, C*H*W)``) -> ``mu``, ``logvar`` each ``(B, latent_dim)``."""
        checks.images("x", x, self.input_shape)
        h = self.encoder(x.flatten(start_dim=1))  # (B, C*H*W) -> (B, hidden)
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)``: random, yet differentiable in ``mu`` and ``logvar``."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, latent_dim)`` -> pixel logits ``(B, C, H, W)``."""
        checks.codes("z", z, self.latent_dim)
        return self.decoder(z).view(-1, *self.input_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``x`` ``(B, C, H, W)`` -> ``(logits, mu, logvar)``; the loss is computed outside."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


class ConditionalVAE(nn.Module):
    """A VAE told the digit: the label, one-hot, is an input of both the encoder and the decoder (Sohn, Lee &
    Yan 2015; Kingma et al. 2014, "M2"). Introduced in notebook 07.

    The decoder is given the label, so the code ``z`` need not carry it, and the KL term charges for every
    nat it does carry: the code is left with what the label does not say, the *style* (slant, width,
    thickness). ``decode(z, y)`` with the same ``z`` and another ``y`` writes another digit in that style.
    """

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dims: Sequence[int] = (512, 256),
        num_classes: int = 10,
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "silu",
    ):
        super().__init__()
        self.config, self.input_shape, input_dim = _mlp_sizes(latent_dim, hidden_dims, input_shape, activation)
        self.config["num_classes"] = checks.count("num_classes", num_classes, minimum=2)
        self.encoder = mlp([input_dim + num_classes, *hidden_dims], activation)
        self.to_mu = nn.Linear(hidden_dims[-1], latent_dim)
        self.to_logvar = nn.Linear(hidden_dims[-1], latent_dim)
        self.decoder = nn.Sequential(
            mlp([latent_dim + num_classes, *reversed(hidden_dims)], activation), nn.Linear(hidden_dims[0], input_dim)
        )

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    @property
    def num_classes(self) -> int:
        return self.config["num_classes"]

    def one_hot(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """Labels ``y`` ``(n,)`` (integers in ``[0, num_classes)``) -> one-hot rows ``(n, num_classes)``, float."""
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise TypeError(
                f"y must be a tensor of integer labels, one per image, e.g. torch.tensor([3, 7]); "
                f"got {y.dtype if isinstance(y, torch.Tensor) else type(y).__name__}."
            )
        if y.shape != (n,):
            raise ValueError(f"y must hold one label per image or code, shape ({n},); got {tuple(y.shape)}.")
        if n and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(
                f"y must hold labels from 0 to {self.num_classes - 1}, got {y.min().item()} to {y.max().item()}."
            )
        return nn.functional.one_hot(y.long(), self.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``x`` ``(B, C, H, W)`` (or flat) and their labels ``y`` ``(B,)`` -> ``mu``, ``logvar`` ``(B, latent_dim)``."""
        checks.images("x", x, self.input_shape)
        h = self.encoder(torch.cat([x.flatten(start_dim=1), self.one_hot(y, len(x)).to(x)], dim=1))
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Codes ``z`` ``(B, latent_dim)`` and the labels to write ``y`` ``(B,)`` -> pixel logits ``(B, C, H, W)``."""
        checks.codes("z", z, self.latent_dim)
        return self.decoder(torch.cat([z, self.one_hot(y, len(z)).to(z)], dim=1)).view(-1, *self.input_shape)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, mu, logvar)`` for images ``x`` with labels ``y``; the loss is :func:`losses.cvae_loss`."""
        mu, logvar = self.encode(x, y)
        return self.decode(MLPVAE.reparameterize(mu, logvar), y), mu, logvar


# ----------------------------------------------------------------------------- notebooks 01-02: decoders that memorize


def conv_transpose_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0
) -> int:
    """Spatial size after ``nn.ConvTranspose2d``: ``(size - 1) * stride - 2 * padding + kernel + output_padding``."""
    return (size - 1) * stride - 2 * padding + kernel + output_padding


class DeconvDecoder(nn.Module):
    """Transposed convolutions that grow a code vector into an image (notebook 01).

    The code ``(B, code_dim)`` is treated as a 1x1 image with ``code_dim`` channels. The first layer
    spreads it to ``start_size x start_size`` (``image_size / 2**len(channels)``); each further layer
    (kernel 4, stride 2, padding 1) doubles the size, ending with ``out_channels`` channels of logits.

    Example: ``code_dim=8, channels=(32, 16), image_size=28``: 1x1 -> 7x7 (32) -> 14x14 (16) -> 28x28 (1).
    """

    def __init__(
        self, code_dim: int = 8, channels: Sequence[int] = (32, 16), image_size: int = 28, out_channels: int = 1
    ):
        super().__init__()
        checks.count("code_dim", code_dim)
        channels = checks.sizes("channels", channels)
        checks.count("image_size", image_size)
        checks.count("out_channels", out_channels)
        factor = 2 ** len(channels)
        if image_size % factor:
            raise ValueError(
                f"image_size={image_size} cannot be reached: {len(channels)} doubling layers need a multiple of {factor}. "
                "Use fewer channels entries or another image_size."
            )
        self.config = {
            "code_dim": code_dim,
            "channels": list(channels),
            "image_size": image_size,
            "out_channels": out_channels,
        }
        start = image_size // factor
        widths = [*channels, out_channels]
        layers: list[nn.Module] = [nn.ConvTranspose2d(code_dim, widths[0], kernel_size=start), nn.ReLU()]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        self.layers = nn.Sequential(*layers[:-1])  # no ReLU after the last layer: it outputs logits

    @property
    def code_dim(self) -> int:
        return self.config["code_dim"]

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one output image, computed layer by layer from the transposed-convolution formula."""
        size = 1
        for layer in self.layers:
            if isinstance(layer, nn.ConvTranspose2d):
                size = conv_transpose_output_size(
                    size, layer.kernel_size[0], layer.stride[0], layer.padding[0], layer.output_padding[0]
                )
        return (self.config["out_channels"], size, size)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        """``code`` ``(B, code_dim)`` -> logits ``(B, C, H, W)``; ``torch.sigmoid`` turns them into pixels in [0, 1]."""
        checks.codes("code", code, self.code_dim)
        return self.layers(code[:, :, None, None])  # (B, code_dim, 1, 1)


CODE_KINDS = ("onehot", "learned", "random")


class CodebookDecoder(nn.Module):
    """A decoder that stores ``num_images`` images, each reached through its own code (notebook 02).

    - ``"onehot"``: image ``i`` is decoded from the one-hot vector ``e_i`` (``code_dim = num_images``);
      the first layer grows with every image stored.
    - ``"learned"``: a table of ``code_dim``-long real codes (``nn.Embedding``) trained with the decoder.
    - ``"random"``: the same table, drawn once from N(0, 1) (with ``seed``) and kept fixed.

    ``forward(index)`` takes image indices ``(B,)`` and returns logits ``(B, 1, 28, 28)``.
    """

    def __init__(
        self,
        num_images: int,
        code: str = "learned",
        code_dim: int = 2,
        channels: Sequence[int] = (32, 16),
        image_size: int = 28,
        seed: int = 0,
    ):
        super().__init__()
        checks.count("num_images", num_images)
        checks.choice("code", code, CODE_KINDS)
        checks.count("code_dim", code_dim)
        checks.count("seed", seed, minimum=0)
        self.config = {
            "num_images": num_images,
            "code": code,
            "code_dim": code_dim,
            "channels": list(channels),
            "image_size": image_size,
            "seed": seed,
        }
        if code == "onehot":
            code_dim = num_images
            self.config["code_dim"] = code_dim
            self.register_buffer("codes", torch.eye(num_images))  # row i is e_i: fixed, not a parameter
        else:
            table = torch.randn(num_images, code_dim, generator=torch.Generator().manual_seed(seed))
            if code == "learned":
                self.codes = nn.Parameter(table)
            else:
                self.register_buffer("codes", table)
        self.decoder = DeconvDecoder(code_dim, channels, image_size)

    def code_of(self, index: torch.Tensor) -> torch.Tensor:
        """The codes ``(B, code_dim)`` of images ``index`` ``(B,)``."""
        n = self.config["num_images"]
        if (
            not isinstance(index, torch.Tensor)
            or index.is_floating_point()
            or index.is_complex()
            or index.dtype == torch.bool
        ):
            raise TypeError(
                f"index must be a tensor of whole numbers (image indices 0 to {n - 1}), e.g. "
                f"torch.arange({n}); got {type(index).__name__ if not isinstance(index, torch.Tensor) else index.dtype}."
            )
        if index.ndim != 1:
            raise ValueError(f"index must be 1-D, one image index per row (B,), got shape {tuple(index.shape)}.")
        if len(index) and (index.min() < 0 or index.max() >= n):
            raise ValueError(
                f"index must lie between 0 and {n - 1} (this decoder stores {n} images), "
                f"got values from {int(index.min())} to {int(index.max())}."
            )
        return self.codes[index]

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.code_of(index))

    def parameter_counts(self) -> dict[str, int]:
        """Trainable scalars: in the codes, in the decoder's first (input) layer, and in total."""
        first = self.decoder.layers[0]
        codes = self.codes.numel() if isinstance(self.codes, nn.Parameter) else 0
        input_layer = sum(p.numel() for p in first.parameters())
        return {
            "codes": codes,
            "input_layer": input_layer,
            "total": sum(p.numel() for p in self.parameters() if p.requires_grad),
        }


# ----------------------------------------------------------------------------- notebook 03: autoencoders


class Autoencoder(nn.Module):
    """What every autoencoder here shares: an ``encoder`` to the code and a ``decoder`` back to logits."""

    config: dict
    input_shape: tuple[int, ...]

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C, H, W)`` (or flat ``(B, C*H*W)``) -> ``z`` ``(B, latent_dim)``."""
        checks.images("x", x, self.input_shape)
        return self.encoder(x.reshape(len(x), *self.input_shape))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, latent_dim)`` -> logits ``(B, C, H, W)``."""
        checks.codes("z", z, self.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class MLPAutoencoder(Autoencoder):
    """Encoder ``x -> z`` (fully connected layers that shrink) and decoder ``z -> logits`` (that grow back).
    Introduced in notebook 03."""

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_dims: Sequence[int] = (512, 256),
        input_shape: Sequence[int] = (1, 28, 28),
        activation: str = "silu",
    ):
        super().__init__()
        self.config, self.input_shape, input_dim = _mlp_sizes(latent_dim, hidden_dims, input_shape, activation)
        self.encoder = nn.Sequential(
            nn.Flatten(), mlp([input_dim, *hidden_dims], activation), nn.Linear(hidden_dims[-1], latent_dim)
        )
        self.decoder = nn.Sequential(
            mlp([latent_dim, *reversed(hidden_dims)], activation),
            nn.Linear(hidden_dims[0], input_dim),
            nn.Unflatten(1, self.input_shape),
        )


class ConvEncoder(nn.Module):
    """Strided convolutions that halve the image twice (28 -> 14 -> 7), then a linear layer to ``z`` (notebook 03).

    ``channels`` are the widths of the two convolutions in the order they are applied, e.g. ``(16, 32)``:
    (B, 1, 28, 28) -> (B, 16, 14, 14) -> (B, 32, 7, 7) -> (B, latent_dim).
    """

    def __init__(
        self, latent_dim: int = 20, channels: Sequence[int] = (16, 32), image_size: int = 28, in_channels: int = 1
    ):
        super().__init__()
        checks.count("latent_dim", latent_dim)
        channels = checks.sizes("channels", channels)
        checks.count("image_size", image_size)
        checks.count("in_channels", in_channels)
        if len(channels) != 2:
            raise ValueError(
                f"channels must be two widths, first and second convolution, e.g. (16, 32); got {list(channels)}."
            )
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two halvings), got {image_size}.")
        first, second = channels
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, first, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),  # (B, 1, 28, 28) -> (B, first, 14, 14)
            nn.Conv2d(first, second, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),  # -> (B, second, 7, 7)
            nn.Flatten(),  # -> (B, second * 49)
            nn.Linear(second * (image_size // 4) ** 2, latent_dim),  # -> (B, latent_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvAutoencoder(Autoencoder):
    """:class:`ConvEncoder` followed by notebook 01's :class:`DeconvDecoder` (notebook 03).

    ``channels`` are the decoder's widths, ``(32, 16)``: 7x7 (32) -> 14x14 (16) -> 28x28; the encoder
    mirrors them, applying 16 channels first and 32 second.
    """

    def __init__(self, latent_dim: int = 20, channels: Sequence[int] = (32, 16), image_size: int = 28):
        super().__init__()
        checks.count("latent_dim", latent_dim)
        self.config = {"latent_dim": latent_dim, "channels": list(channels), "image_size": image_size}
        self.input_shape = (1, image_size, image_size)
        self.encoder = ConvEncoder(latent_dim, tuple(reversed(channels)), image_size)
        self.decoder = DeconvDecoder(latent_dim, channels, image_size)


class ConvVAE(nn.Module):
    """A convolutional VAE (notebook 05): :class:`ConvEncoder` gives ``2 * latent_dim`` numbers, split into
    ``mu`` and ``logvar``; notebook 01's :class:`DeconvDecoder` turns a sample ``z`` into logits.
    ``channels`` are the decoder's widths; the encoder mirrors them, as in :class:`ConvAutoencoder`."""

    def __init__(self, latent_dim: int = 20, channels: Sequence[int] = (32, 16), image_size: int = 28):
        super().__init__()
        checks.count("latent_dim", latent_dim)
        self.config = {"latent_dim": latent_dim, "channels": list(channels), "image_size": image_size}
        self.input_shape = (1, image_size, image_size)
        self.encoder = ConvEncoder(2 * latent_dim, tuple(reversed(channels)), image_size)
        self.decoder = DeconvDecoder(latent_dim, channels, image_size)

    @property
    def latent_dim(self) -> int:
        return self.config["latent_dim"]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, 1, H, W)`` (or flat ``(B, H*W)``) -> ``mu``, ``logvar`` each ``(B, latent_dim)``."""
        checks.images("x", x, self.input_shape)
        mu, logvar = self.encoder(x.reshape(len(x), *self.input_shape)).chunk(2, dim=1)
        return mu, logvar

    reparameterize = staticmethod(MLPVAE.reparameterize)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z`` ``(B, latent_dim)`` -> logits ``(B, 1, H, W)``."""
        checks.codes("z", z, self.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar
