"""Hand-built compiled models, independent of the compiler: frac_prevs over {a, x}, and a categorical echo.

Residual (D = 7 + max_seq_len): one, tokens:a, tokens:x, tokens:BOS, tokens:PAD, indices:0..N-1, is_x,
frac_prevs. Layer 0: no attention; its MLP writes is_x = relu(tokens:x). Layer 1: one head computing the mean
of is_x over keys with index <= the query's (BOS scored half as high, so it wins only when nothing else
is selected); no MLP work.
"""

from __future__ import annotations

import numpy as np
import pytest

from optracr import assemble, craft, schedule
from optracr.frontend import rasp

MAX_SEQ_LEN = 4
SHARPNESS = 40.0


def _direction(label: str) -> craft.BasisDirection:
    name, _, value = label.partition(":")
    return craft.BasisDirection(name, int(value) if name == "indices" else value or None)


def _space(labels: list[str]) -> craft.VectorSpaceWithBasis:
    return craft.bases.space(_direction(label) for label in labels)


def _labels(max_seq_len: int) -> list[str]:
    indices = [f"indices:{i}" for i in range(max_seq_len)]
    return ["one", "tokens:a", "tokens:x", "tokens:BOS", "tokens:PAD", *indices, "is_x", "frac_prevs"]


def _layers(max_seq_len: int) -> tuple[assemble.Layer, assemble.Layer]:
    """Layer 0: the MLP is_x = relu(tokens:x). Layer 1: the head averaging is_x over keys at or before the query."""
    hidden = _space(["_is_x_hidden:0"])
    is_x_mlp = craft.MLP(
        craft.Linear(_space(["tokens:x"]), hidden, np.ones((1, 1))),
        craft.Linear(hidden, _space(["is_x"]), np.ones((1, 1))),
    )
    indices = [f"indices:{i}" for i in range(max_seq_len)]
    query_space, key_space = _space([*indices, "one"]), _space([*indices, "tokens:BOS"])
    w_qk = np.zeros((max_seq_len + 1, max_seq_len + 1))
    for query in range(max_seq_len):
        w_qk[query, : query + 1] = SHARPNESS
    w_qk[max_seq_len, max_seq_len] = SHARPNESS / 2  # one x tokens:BOS: BOS wins only when nothing is selected
    head = craft.AttentionHead(
        craft.Bilinear(query_space, key_space, w_qk),
        craft.Linear(_space(["is_x"]), _space(["frac_prevs"]), np.ones((1, 1))),
    )
    return assemble.Layer((), is_x_mlp), assemble.Layer((head,), None)


def _embeddings(max_seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    labels = _labels(max_seq_len)
    at = {label: row for row, label in enumerate(labels)}
    tokens = ["tokens:a", "tokens:x", "tokens:BOS", "tokens:PAD"]
    token_embed = np.zeros((len(tokens), len(labels)))
    for row, label in enumerate(tokens):
        token_embed[row, at[label]] = token_embed[row, at["one"]] = 1.0
    pos_embed = np.zeros((max_seq_len + 1, len(labels)))
    for position in range(1, max_seq_len + 1):
        pos_embed[position, at[f"indices:{position - 1}"]] = 1.0
    return token_embed, pos_embed


def handmade_model(*, max_seq_len: int = MAX_SEQ_LEN, categorical: bool = False) -> assemble.CompiledModel:
    """frac_prevs over {a, x} (numerical), or with ``categorical`` the token echoed as classes a, x."""
    shape = schedule.ModelShape(
        num_layers=2, num_heads=1, key_size=max_seq_len + 1, value_size=1, mlp_hidden_width=1
    )
    allocation = schedule.Allocation(
        sublayer_of={"is_x": 1, "frac_prevs": 2},
        shape=shape,
        parameter_count=0,
        status=schedule.AllocationStatus.HEURISTIC,
    )
    output = _space(["tokens:a", "tokens:x"] if categorical else ["frac_prevs"])
    token_embed, pos_embed = _embeddings(max_seq_len)
    layered = assemble.LayeredModel(
        residual_space=_space(_labels(max_seq_len)),
        input_tokens=("a", "x", "BOS", "PAD"),
        token_embedding=token_embed,
        position_embedding=pos_embed,
        layers=_layers(max_seq_len),
        unembedding=craft.Linear(output, output, np.eye(output.num_dims)),
        output_label="tokens" if categorical else "frac_prevs",
        output_encoding=rasp.Encoding.CATEGORICAL if categorical else rasp.Encoding.NUMERICAL,
        bos="BOS",
        pad="PAD",
        max_seq_len=max_seq_len,
        causal=False,
        shape=shape,
        allocation=allocation,
        locations={},
    )
    return assemble.CompiledModel(layered)


@pytest.fixture(scope="session")
def frac_prevs_model() -> assemble.CompiledModel:
    """The hand-built frac_prevs model."""
    return handmade_model()


@pytest.fixture(scope="session")
def echo_model() -> assemble.CompiledModel:
    """The hand-built model with a categorical output (the input token)."""
    return handmade_model(categorical=True)
