"""How fast is the course's training loop? The classic reference VAE trained two ways, side by side.

The model and loss are those of the PyTorch example (784-400-20 MLP VAE, ReLU, Adam lr 1e-3, batch
128, BCE summed over pixels + analytic KL, per example), trained:

- ``course``:     ``vae_helpers.data`` (uint8 tensors in memory, randperm batches) + ``training.fit``
- ``dataloader``: ``DataLoader(MNIST(transform=ToTensor()), batch_size=128, shuffle=True)`` + a plain loop

Each runs in its own process (so peak memory is its own). The script prints per-epoch training seconds,
samples per second, test negative ELBO per epoch (nats per image, one z sample per image), peak
memory, the speed ratio, and the course loop's overhead: the share of its training time spent
outside the model's forward, loss, backward and optimizer step (timed separately on the same batches).

    python benchmarks/bench_training_loop.py              # 10 epochs each, about 3 minutes on 2 cores
    python benchmarks/bench_training_loop.py --epochs 1 --subset 5000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from vae_helpers.data import load_mnist
from vae_helpers.losses import vae_loss
from vae_helpers.mnist import data_root
from vae_helpers.models import MLPVAE
from vae_helpers.training import evaluate, fit
from vae_helpers.utils import configure_threads, seed_everything

BATCH_SIZE, LR = 128, 1e-3


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)  # macOS reports bytes


class ModelClock:
    """Times the model's own work inside ``fit``: the loss function (forward + loss) and everything from
    its return to the end of ``optimizer.step`` (backward + step). The rest of each epoch is overhead."""

    def __init__(self, optimizer):
        self.seconds, self._mark = 0.0, None
        optimizer.register_step_post_hook(self._after_step)

    def loss_fn(self, model, batch):
        if not model.training:  # fit's test pass: not part of the training epoch
            return vae_loss(model, batch)
        start = time.perf_counter()
        out = vae_loss(model, batch)
        self._mark = time.perf_counter()
        self.seconds += self._mark - start
        return out

    def _after_step(self, optimizer, args, kwargs):
        self.seconds += time.perf_counter() - self._mark

    def lap(self) -> float:
        seconds, self.seconds = self.seconds, 0.0
        return seconds


def run_course(epochs: int, subset: int | None, device: torch.device, fused: bool) -> dict:
    seed_everything(0)
    mnist = load_mnist(subset=subset, device=device)
    model = MLPVAE(activation="relu").to(device)  # the example's own activation
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)
    clock = ModelClock(optimizer)
    model_seconds = []
    history = fit(
        model,
        mnist.train.batches(BATCH_SIZE, seed=0),
        optimizer,
        clock.loss_fn,
        epochs,
        test_data=mnist.test.batches(1000, shuffle=False),
        verbose=False,
        on_epoch_end=lambda epoch, h: model_seconds.append(clock.lap()),
    )
    return {
        "train_seconds": history["train_seconds"],
        "epoch_seconds": history["seconds"],
        "model_seconds": model_seconds,
        "test_nelbo": history["test_loss"],
        "n_train": len(mnist.train),
        "fused_adam": bool(optimizer.defaults.get("fused")),
        "peak_rss_mb": peak_rss_mb(),
    }


def run_dataloader(epochs: int, subset: int | None, device: torch.device, fused: bool) -> dict:
    """The classic example's data path: per-image PIL -> ToTensor through a DataLoader, train then test."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    seed_everything(0)
    root = str(data_root())
    train_ds = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    test_ds = datasets.MNIST(root, train=False, download=False, transform=transforms.ToTensor())
    if subset is not None:
        train_ds = Subset(train_ds, range(subset))
    train_loader = DataLoader(train_ds, batch_size=BATCH_SIZE, shuffle=True)
    test_loader = DataLoader(test_ds, batch_size=BATCH_SIZE, shuffle=False)
    model = MLPVAE(activation="relu").to(device)  # the example's own activation
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    train_s, epoch_s, nelbo = [], [], []
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        for x, y in train_loader:
            x = x.to(device)
            loss, _ = vae_loss(model, (x, y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train_s.append(time.perf_counter() - start)
        nelbo.append(evaluate(model, ((x.to(device), y) for x, y in test_loader), vae_loss)["loss"])
        epoch_s.append(time.perf_counter() - start)
    return {
        "train_seconds": train_s,
        "epoch_seconds": epoch_s,
        "test_nelbo": nelbo,
        "n_train": len(train_ds),
        "peak_rss_mb": peak_rss_mb(),
    }


RUNS = {  # name -> (function, fused Adam?)
    "course": (run_course, True),
    "course-plain-adam": (run_course, False),
    "dataloader": (run_dataloader, False),
}


def worker(args) -> None:
    configure_threads()
    device = torch.device(args.device)
    run, fused = RUNS[args.worker]
    result = run(args.epochs, args.subset, device, fused)
    if device.type == "cuda":
        result["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    result["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(result))


def launch(name: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--epochs", str(args.epochs), "--device", args.device]
    if args.subset:
        cmd += ["--subset", str(args.subset)]
    print(f"running {name} ({args.epochs} epoch(s))...", flush=True)
    out = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=None if args.verbose else subprocess.DEVNULL, text=True, check=True
    )
    return json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--subset", type=int, default=None, help="train on this many images (default: all 60,000)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--verbose", action="store_true", help="show the workers' progress bars")
    parser.add_argument("--worker", choices=list(RUNS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    print(f"torch {torch.__version__}, device {args.device}, data in {data_root()}")
    r = {name: launch(name, args) for name in RUNS}
    course, plain, loader = r["course"], r["course-plain-adam"], r["dataloader"]
    print(
        f"\nthreads per process: {course['threads']}; training images: {course['n_train']:,}; "
        f"course Adam fused: {course['fused_adam']}\n"
    )
    print("seconds per epoch: training pass / training + test pass; test nELBO in nats per image")
    print(f"{'epoch':>5} | {'course (fused Adam)':>25} | {'course, plain Adam':>25} | {'DataLoader, plain Adam':>25}")
    for e in range(args.epochs):
        cells = [
            f"{x['train_seconds'][e]:5.2f} / {x['epoch_seconds'][e]:5.2f}  {x['test_nelbo'][e]:7.2f}"
            for x in (course, plain, loader)
        ]
        print(f"{e + 1:>5} | " + " | ".join(f"{c:>25}" for c in cells))

    med = lambda x, key: statistics.median(x[key])  # noqa: E731
    n = course["n_train"]
    print()
    for name, x in r.items():
        extra = f", peak CUDA {x['peak_cuda_mb']:.0f} MB" if "peak_cuda_mb" in x else ""
        print(
            f"{name:>18}: median {med(x, 'train_seconds'):.2f} s/epoch training ({n / med(x, 'train_seconds'):,.0f} samples/s), "
            f"{med(x, 'epoch_seconds'):.2f} s with test; final test nELBO {x['test_nelbo'][-1]:.2f}; "
            f"peak RSS {x['peak_rss_mb']:.0f} MB{extra}"
        )
    print("\nspeed-up over the DataLoader loop (median seconds per epoch):")
    for name, x in (("course (fused Adam)", course), ("course, same plain Adam", plain)):
        print(
            f"  {name:>24}: {med(loader, 'train_seconds') / med(x, 'train_seconds'):.2f}x training pass, "
            f"{med(loader, 'epoch_seconds') / med(x, 'epoch_seconds'):.2f}x training + test   (target >= 4x)"
        )
    for name, x in (("course (fused Adam)", course), ("course, same plain Adam", plain)):
        overhead = 1 - sum(x["model_seconds"]) / sum(x["train_seconds"])
        model_epoch = statistics.median(x["model_seconds"])
        print(
            f"  {name:>24}: model work (forward, loss, backward, step) {model_epoch:.2f} s/epoch; "
            f"loop overhead {100 * overhead:.1f}% (target < 10%); "
            f"ceiling over the DataLoader loop {med(loader, 'train_seconds') / model_epoch:.2f}x"
        )
    print(
        f"final test nELBO, course - DataLoader: {course['test_nelbo'][-1] - loader['test_nelbo'][-1]:+.2f} nats "
        f"(fused) and {plain['test_nelbo'][-1] - loader['test_nelbo'][-1]:+.2f} nats (plain Adam); target within 0.5"
    )


if __name__ == "__main__":
    main()
