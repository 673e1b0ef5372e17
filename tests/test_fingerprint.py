"""fingerprint: what a trained model's key records (zoo.trained compares keys to decide whether to retrain)."""

import functools
import gc

from vae_helpers.fingerprint import describe_changes, fingerprint


class Settings:
    """Settings that describe themselves with a fresh dict on every call, as RunConfig does."""

    def __init__(self, lr):
        self.lr = lr

    def __fingerprint__(self):
        return {"lr": self.lr, "layers": [3, 4]}


def loss(x, beta=1.0):
    return x * beta


def test_every_object_is_recorded_even_when_a_temporary_walked_before_it_is_freed():
    # each __fingerprint__() dict is a temporary; once the first is freed, CPython hands its memory (and
    # so its id) to the second, which must not then count as "already seen" and be left out
    fp = fingerprint(first=Settings(0.1), second=Settings(0.2))
    assert fp["first['lr']"] == "0.1" and fp["second['lr']"] == "0.2"
    assert fingerprint(first=Settings(0.1), second=Settings(0.3)) != fp


SWEEP = """
import functools

def loss(x, beta=1.0):
    return x * beta

def training_for(beta):
    loss_fn = functools.partial(loss, beta=beta)

    def train(model):
        return cfg, loss_fn(model)

    return train
"""


def test_a_keyword_fixed_by_functools_partial_is_part_of_the_key(notebook):
    # notebook 05's sweep: one training function per beta, beta fixed with functools.partial, next to the
    # settings object; the key must hold beta every time, or a changed beta would load the wrong model
    notebook.ns["cfg"] = Settings(0.1)
    notebook.run(SWEEP)
    betas = (0.0, 0.5, 4.0) * 20
    keys = []
    for beta in betas:
        keys.append(fingerprint(train=notebook["training_for"](beta)))
        gc.collect()
    for beta, key in zip(betas, keys):
        assert key["training_for.<locals>.train.loss_fn(kwargs)"] == repr({"beta": beta})
        assert key["cfg['lr']"] == "0.1"
    assert len({repr(sorted(k.items())) for k in keys}) == 3  # one key per beta, the same every time


def test_repeated_fingerprints_of_the_same_objects_agree():
    settings = [Settings(0.1), Settings(0.2)]
    first = fingerprint(settings=settings, fn=functools.partial(loss, beta=2.0))
    for _ in range(20):
        junk = [{"x": i} for i in range(100)]  # churn the allocator between calls
        assert fingerprint(settings=settings, fn=functools.partial(loss, beta=2.0)) == first
        del junk


def test_describe_changes_names_the_value_that_changed():
    old = fingerprint(fn=functools.partial(loss, beta=1.0))
    new = fingerprint(fn=functools.partial(loss, beta=4.0))
    assert describe_changes(old, new) == ["fn(kwargs) {'beta': 1.0} → {'beta': 4.0}"]


def test_progress_bars_are_not_part_of_the_key(notebook):
    # tqdm.auto.tqdm is a different class in Jupyter and in a terminal: a model trained in a notebook must
    # load in a script (and the other way round), so display code is left out of the key
    import tqdm.asyncio
    import tqdm.std

    keys = []
    for bar in (tqdm.std.tqdm, tqdm.asyncio.tqdm_asyncio):
        notebook.ns["tqdm"] = bar
        notebook.run("def train(model):\n    for _ in tqdm(range(3)):\n        pass\n    return model\n")
        keys.append(fingerprint(train=notebook["train"]))
    assert keys[0] == keys[1] and not any("tqdm" in k for k in keys[0])
