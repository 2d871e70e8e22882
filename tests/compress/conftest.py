"""Hand-built compiled models, independent of the compiler: frac_prevs over {a, x}, and a categorical echo.

Residual (D = 7 + max_seq_len): one, tokens:a, tokens:x, tokens:BOS, tokens:PAD, indices:0..N-1, is_x,
frac_prevs. Layer 0: no attention; its MLP writes is_x = relu(tokens:x). Layer 1: one head computing the mean
of is_x over keys with index <= the query's (BOS scored half as high, so it wins only when nothing else
is selected); no MLP work.
"""

from __future__ import annotations

import numpy as np
import pytest

from optracr import assemble, schedule
from optracr.frontend import rasp

MAX_SEQ_LEN = 4
SHARPNESS = 40.0


def _labels(max_seq_len: int) -> list[str]:
    indices = [f"indices:{i}" for i in range(max_seq_len)]
    return ["one", "tokens:a", "tokens:x", "tokens:BOS", "tokens:PAD", *indices, "is_x", "frac_prevs"]


def _params(max_seq_len: int, categorical: bool) -> dict[str, dict[str, np.ndarray]]:
    labels = _labels(max_seq_len)
    at = {label: row for row, label in enumerate(labels)}
    width = len(labels)
    tokens = ["tokens:a", "tokens:x", "tokens:BOS", "tokens:PAD"]
    token_embed = np.zeros((len(tokens), width))
    for row, label in enumerate(tokens):
        token_embed[row, at[label]] = token_embed[row, at["one"]] = 1.0
    pos_embed = np.zeros((max_seq_len + 1, width))
    for position in range(1, max_seq_len + 1):
        pos_embed[position, at[f"indices:{position - 1}"]] = 1.0
    key_size = max_seq_len + 1
    query, key = np.zeros((width, key_size)), np.zeros((width, key_size))
    for column in range(max_seq_len):  # query column c: [index_q >= c]; key column c: [index_k == c]
        key[at[f"indices:{column}"], column] = 1.0
        for index in range(column, max_seq_len):
            query[at[f"indices:{index}"], column] = SHARPNESS
    query[at["one"], max_seq_len] = SHARPNESS / 2
    key[at["tokens:BOS"], max_seq_len] = 1.0
    value, output = np.zeros((width, 1)), np.zeros((1, width))
    value[at["is_x"], 0] = 1.0
    output[0, at["frac_prevs"]] = 1.0
    mlp_in, mlp_out = np.zeros((width, 1)), np.zeros((1, width))
    mlp_in[at["tokens:x"], 0] = 1.0
    mlp_out[0, at["is_x"]] = 1.0
    if categorical:  # the output echoes the token: classes a, x
        unembed = np.zeros((width, 2))
        unembed[at["tokens:a"], 0] = unembed[at["tokens:x"], 1] = 1.0
    else:
        unembed = np.zeros((width, 1))
        unembed[at["frac_prevs"], 0] = 1.0
    layer_1_attention = {"query": query, "key": key, "value": value, "output": output}
    zeros_attention = {name: np.zeros_like(weights) for name, weights in layer_1_attention.items()}
    params: dict[str, dict[str, np.ndarray]] = {
        "token_embed": {"embeddings": token_embed},
        "pos_embed": {"embeddings": pos_embed},
    }
    for number, attention, mlp in ((0, zeros_attention, (mlp_in, mlp_out)), (1, layer_1_attention, None)):
        for name, weights in attention.items():
            params[f"transformer/layer_{number}/attn/{name}"] = {"w": weights}
        w_in, w_out = mlp if mlp else (np.zeros_like(mlp_in), np.zeros_like(mlp_out))
        params[f"transformer/layer_{number}/mlp/linear_1"] = {"w": w_in}
        params[f"transformer/layer_{number}/mlp/linear_2"] = {"w": w_out}
    params["unembed"] = {"w": unembed}
    return params


def handmade_model(*, max_seq_len: int = MAX_SEQ_LEN, categorical: bool = False) -> assemble.CompiledModel:
    """frac_prevs over {a, x} (numerical), or with ``categorical`` the token echoed as classes a, x."""
    config = assemble.ModelConfig(
        num_layers=2,
        num_heads=1,
        key_size=max_seq_len + 1,
        value_size=1,
        mlp_hidden_size=1,
        d_model=len(_labels(max_seq_len)),
        vocab_size=4,
        output_size=2 if categorical else 1,
        max_seq_len=max_seq_len,
        causal=False,
    )
    allocation = schedule.Allocation(
        sublayer_of={"is_x": 1, "frac_prevs": 2},
        shape=schedule.ModelShape(
            num_layers=2, num_heads=1, key_size=config.key_size, value_size=1, mlp_hidden_width=1
        ),
        parameter_count=0,
        status=schedule.AllocationStatus.HEURISTIC,
    )
    return assemble.CompiledModel(
        config=config,
        params=_params(max_seq_len, categorical),
        residual_labels=tuple(_labels(max_seq_len)),
        allocation=allocation,
        sublayer_contents=((), ("is_x",), ("frac_prevs",), ()),
        input_tokens=("a", "x", "BOS", "PAD"),
        output_label="tokens" if categorical else "frac_prevs",
        output_encoding=rasp.Encoding.CATEGORICAL if categorical else rasp.Encoding.NUMERICAL,
        output_classes=("a", "x") if categorical else (),
        bos="BOS",
        pad="PAD",
        compile_seconds={},
    )


@pytest.fixture(scope="session")
def frac_prevs_model() -> assemble.CompiledModel:
    """The hand-built frac_prevs model."""
    return handmade_model()


@pytest.fixture(scope="session")
def echo_model() -> assemble.CompiledModel:
    """The hand-built model with a categorical output (the input token)."""
    return handmade_model(categorical=True)
