"""What the reference (tracr-pypi 1.0.0) does at each place where optracr differs (docs/semantics.md).

Run with the reference installed (see benchmarks/README.md, "reference_peer.py"):
``<venv>/bin/python benchmarks/reference_semantics.py``. Each line prints a case and what the reference
returned or raised; docs/semantics.md quotes these lines. Compiles a handful of small models (about 20 s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def show(case: str, run: Callable[[], Any]) -> None:
    """Prints ``case -> value`` or ``case -> raises Type: message``."""
    try:
        print(f"{case} -> {run()!r}")
    except Exception as error:  # what the reference raises is the point
        print(f"{case} -> raises {type(error).__name__}: {str(error)[:160]}")


def main() -> None:
    """Every case of docs/semantics.md, against the reference."""
    from tracr.compiler import compiling, lib
    from tracr.rasp import causal_eval, rasp

    maybe = rasp.Map(lambda t: None if t == "b" else t, rasp.tokens)
    show("None key, Comparison.EQ", lambda: rasp.evaluate(rasp.Select(maybe, rasp.tokens, rasp.Comparison.EQ), ["a", "b"]))
    show("None query, Comparison.EQ", lambda: rasp.evaluate(rasp.Select(rasp.tokens, maybe, rasp.Comparison.EQ), ["a", "b"]))
    show("None key, lambda predicate", lambda: rasp.evaluate(rasp.Select(maybe, rasp.tokens, lambda k, q: k == q), ["a", "b"]))

    every = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
    show("categorical Aggregate of [1, 2, 4]", lambda: rasp.evaluate(rasp.Aggregate(every, rasp.tokens), [1, 2, 4]))
    show("categorical Aggregate of [a, b]", lambda: rasp.evaluate(rasp.Aggregate(every, rasp.tokens), ["a", "b"]))
    show("categorical Aggregate of [a, a]", lambda: rasp.evaluate(rasp.Aggregate(every, rasp.tokens), ["a", "a"]))

    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    is_x = rasp.numerical(rasp.Map(lambda t: 1 if t == "x" else 0, rasp.tokens))
    show("frac_prevs on xaxc", lambda: rasp.evaluate(rasp.numerical(rasp.Aggregate(prevs, is_x, default=0)), list("xaxc")))
    is_x_bool = rasp.numerical(rasp.Map(lambda t: t == "x", rasp.tokens))
    show("frac_prevs of bools on xaxc", lambda: rasp.evaluate(rasp.numerical(rasp.Aggregate(prevs, is_x_bool, default=0)), list("xaxc")))

    show("causal evaluation of length", lambda: causal_eval.evaluate(rasp.length, list("abc")))
    show("causal evaluation of make_length()", lambda: causal_eval.evaluate(lib.make_length(), list("abc")))
    show("compile Map(length)", lambda: compiling.compile_rasp_to_model(rasp.Map(lambda n: n, rasp.length), {"a"}, 3))

    length = compiling.compile_rasp_to_model(lib.make_length(), {"a", "b"}, 3)
    show("default BOS token", lambda: length.input_encoder.bos_token)
    show("apply(['BOS', 'a'])", lambda: length.apply(["BOS", "a"]).decoded)
    show("residual labels of make_length()", lambda: length.residual_labels)
    show("apply with PAD", lambda: length.apply(["compiler_bos", "a", "compiler_pad"]).decoded)

    long_length = compiling.compile_rasp_to_model(lib.make_length(), {"a"}, 12, compiler_bos="BOS")
    show("length of 10 tokens, mlp_exactness 100", lambda: long_length.apply(["BOS"] + ["a"] * 10).decoded)

    negate = rasp.numerical(rasp.Map(lambda t: -t, rasp.tokens, simplify=False))
    show("evaluate Map(-t) on 1 2 3", lambda: rasp.evaluate(negate, [1, 2, 3]))
    negated = compiling.compile_rasp_to_model(negate, {1, 2, 3}, 3, compiler_bos="BOS")
    show("compiled Map(-t) on 1 2 3", lambda: negated.apply(["BOS", 1, 2, 3]).decoded)

    first = rasp.Map(lambda t: t + "1", rasp.tokens).named("x")
    second = rasp.Map(lambda t: t + "2", rasp.tokens).named("x")
    both = rasp.SequenceMap(lambda p, q: p + q, first, second).named("both")
    show("labels of two expressions named x", lambda: (first.label, second.label))
    named = compiling.compile_rasp_to_model(both, {"a"}, 2, compiler_bos="BOS")
    show("residual labels with two x", lambda: named.residual_labels)


if __name__ == "__main__":
    main()
