"""Jupyter's stop button sends SIGINT to the kernel: `fit` must stop after the batch and return its history."""

import queue
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

SETUP = """
import torch
from torch import nn
from vae_helpers.training import fit
torch.manual_seed(0)
model = nn.Linear(2, 1)
data = [(torch.randn(64, 2), torch.randn(64, 1)) for _ in range(200)]
def loss_fn(m, batch):
    if not started:
        print("STARTED", flush=True)
        started.append(1)
    return ((m(batch[0]) - batch[1]) ** 2).mean(), {}
started = []
"""
TRAIN = """
history = fit(model, data, torch.optim.SGD(model.parameters(), lr=0.01), loss_fn, 100_000, progress=False, verbose=False)
print("RETURNED", history.interrupted, len(history.steps), torch.isfinite(model.weight).all().item())
"""


def run_until_idle(kc, code, on_stream=None, timeout=60):
    msg_id = kc.execute(code)
    texts, errors = [], []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            texts.append(msg["content"]["text"])
            if on_stream:
                on_stream(msg["content"]["text"])
        elif kind == "error":
            errors.append(msg["content"]["ename"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(texts), errors
    raise TimeoutError(f"cell did not finish within {timeout} s; output so far: {''.join(texts)!r}")


@pytest.mark.slow
def test_kernel_interrupt_stops_training_and_keeps_the_model():
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        _, errors = run_until_idle(kc, SETUP)
        assert not errors

        def interrupt_once_started(text):
            if "STARTED" in text:
                time.sleep(0.5)
                km.interrupt_kernel()

        out, errors = run_until_idle(kc, TRAIN, on_stream=interrupt_once_started)
        assert not errors, f"the interrupt escaped fit(): {errors}; output {out!r}"
        assert "Training stopped during epoch" in out
        interrupted, steps, finite = out.split("RETURNED")[1].split()
        assert interrupted == "True" and 0 < int(steps) < 100_000 * 200 and finite == "True"
        out, errors = run_until_idle(kc, "print(model(torch.ones(1, 2)).shape)")
        assert not errors and "torch.Size([1, 1])" in out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
