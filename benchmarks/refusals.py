"""How many freely written random RASP programs the compiler refuses, grouped by the refusal's message.

Unlike ``optracr.random_programs`` (which builds only programs the frontend accepts), this generator writes
programs the way a user of the reference's RASP names might: Maps and SequenceMaps of any s-ops (numerical
ones too: products, sums), Selects over any two s-ops (numerical keys and queries too), selectors combined
with ``&``, ``|`` and ``~`` over different s-ops, numerical and categorical Aggregates and SelectorWidths.
It uses nothing but ``optracr.rasp`` and ``optracr.compile``, so it runs unchanged on any version of
optracr: run it on two checkouts to compare them.

    PYTHONPATH=/path/to/checkout python benchmarks/refusals.py --programs 1000 --seed 0

Prints the share compiled (and how many of those with a warning, by its class), refused (``CompileError``,
grouped by message with labels and values blanked) and crashed (any other exception: a bug), and the share of
compiled models ``optracr.verify`` finds exact. ``--causal`` compiles with ``causal=True`` (and verifies
against the causal evaluator, as ``optracr.verify`` does for a causal model).
"""

from __future__ import annotations

import argparse
import collections
import random
import re
import sys
import time
import warnings
import zlib

import optracr
from optracr import rasp

VOCAB = frozenset({"a", "b", "c"})
MAX_SEQ_LEN = 4
ORDERED = (rasp.Comparison.LT, rasp.Comparison.LEQ, rasp.Comparison.GT, rasp.Comparison.GEQ)
UNORDERED = (rasp.Comparison.EQ, rasp.Comparison.NEQ, rasp.Comparison.TRUE)


def _table(salt: int, size: int):
    """A deterministic lookup into range(size) of any value (or pair of values).

    Numbers are keyed by value (1, 1.0 and True alike), as a user's function would treat them: value sets do
    not yet tell 0 from 0.0 (a mean's default is the int 0, a mean of zeros the float), so a function that
    did would be compiled for the one and evaluated on the other.
    """
    def lookup(*args):
        keyed = tuple(float(a) if isinstance(a, (int, float)) else a for a in args)
        return zlib.crc32(repr((salt, keyed)).encode()) % size

    return lookup


class _Writer:
    """Writes one program: each step reads the previous s-op and possibly earlier ones."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # (s-op, kind): kind is "str" (tokens), "int" (categorical numbers), "num" (numerical)
        self.sops: list[tuple[rasp.SOp, str]] = [(rasp.tokens, "str"), (rasp.indices, "int")]
        self.read_tokens_first = True  # so the program depends on its input (or nearly always does)

    def pick(self, kinds: str = "str int num") -> tuple[rasp.SOp, str]:
        if self.read_tokens_first and "str" in kinds:
            self.read_tokens_first = False
            return self.sops[0]
        choices = [entry for entry in self.sops if entry[1] in kinds.split()]
        recent = choices[-2:]
        return self.rng.choice(recent if recent and self.rng.random() < 0.6 else choices)

    def select(self) -> rasp.Selector:
        (keys, key_kind), (queries, query_kind) = self.pick(), self.pick()
        ordered = "str" not in (key_kind, query_kind)
        comparison = self.rng.choice(ORDERED + UNORDERED if ordered else UNORDERED)
        if "str" in (key_kind, query_kind) and key_kind != query_kind:
            comparison = self.rng.choice((rasp.Comparison.TRUE, rasp.Comparison.NEQ))
        return rasp.Select(keys, queries, comparison)

    def selector(self) -> rasp.Selector:
        first = self.select()
        roll = self.rng.random()
        if roll < 0.15:
            return first & self.select()
        if roll < 0.25:
            return first | self.select()
        if roll < 0.32:
            return ~first
        return first

    def step(self, salt: int) -> tuple[rasp.SOp, str]:
        kind = self.rng.choice(["map", "map", "sequence_map", "sequence_map", "mean", "copy", "width"])
        if kind == "map":
            sop, sop_kind = self.pick()
            if sop_kind == "num":
                if self.rng.random() < 0.5:
                    return rasp.numerical(rasp.Map(lambda x: 2 * x, sop)), "num"
                return rasp.Map(lambda x: x > 0.5, sop), "int"
            if self.rng.random() < 0.4:
                return rasp.numerical(rasp.Map(lambda x, t=_table(salt, 2): t(x), sop)), "num"
            return rasp.Map(_table(salt, 3), sop), "int"
        if kind == "sequence_map":
            (fst, fst_kind), (snd, snd_kind) = self.pick(), self.pick()
            if "num" in (fst_kind, snd_kind) and "str" not in (fst_kind, snd_kind):
                if self.rng.random() < 0.5:
                    return rasp.numerical(rasp.SequenceMap(lambda x, y: x * y, fst, snd)), "num"
                return rasp.numerical(rasp.LinearSequenceMap(fst, snd, 1, -1)), "num"
            return rasp.SequenceMap(_table(salt, 3), fst, snd), "int"
        if kind == "mean":
            values, _ = self.pick("num")  # IndexError when there is none yet: see write_program
            return rasp.numerical(rasp.Aggregate(self.selector(), values, default=0)), "num"
        if kind == "copy":
            values, values_kind = self.pick("str int")
            return rasp.Aggregate(self.selector(), values), values_kind
        width = rasp.SelectorWidth(self.selector())
        return (rasp.numerical(width), "num") if self.rng.random() < 0.2 else (width, "int")


def write_program(seed: int, num_sops: int) -> rasp.SOp:
    """A random program of ``num_sops`` steps, each reading the previous one or earlier ones."""
    writer = _Writer(random.Random(seed))
    for step in range(num_sops):
        try:
            sop, kind = writer.step(salt=seed * 100 + step)
        except IndexError:  # no numerical s-op yet for a mean: average a 0/1 map of tokens instead
            is_a = rasp.numerical(rasp.Map(lambda t: 1 if t == "a" else 0, rasp.tokens))
            sop, kind = rasp.numerical(rasp.Aggregate(writer.selector(), is_a, default=0)), "num"
        writer.sops.append((sop.named(f"sop_{step}"), kind))
    return writer.sops[-1][0]


_BLANKS = ((re.compile(r"'[^']*'"), "'_'"), (re.compile(r"\[[^\]]*\]"), "[...]"), (re.compile(r"-?\d+(\.\d+)?"), "N"))


def message_group(error: Exception) -> str:
    """The refusal's message with labels, lists and numbers blanked, so equal causes group together."""
    text = str(error).split("\n")[0]
    text = text.split("': ", 1)[-1]
    for pattern, blank in _BLANKS:
        text = pattern.sub(blank, text)
    return text[:150]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-sops", type=int, default=5)
    parser.add_argument("--verify", action="store_true", help="also check every compiled model on every input")
    parser.add_argument("--causal", action="store_true", help="compile with causal=True")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    refused: collections.Counter[str] = collections.Counter()
    crashed: collections.Counter[str] = collections.Counter()
    warned: collections.Counter[str] = collections.Counter()
    compiled = exact = 0
    for index in range(args.programs):
        program = write_program(args.seed + index, args.num_sops)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = optracr.compile(program, VOCAB, MAX_SEQ_LEN, allocator="heuristic", causal=args.causal)
        except optracr.CompileError as error:
            errors = getattr(error, "errors", None) or [error]
            refused[message_group(errors[0])] += 1
            continue
        except Exception as error:  # noqa: BLE001 - a crash is a finding, counted and shown
            crashed[f"{type(error).__name__}: {message_group(error)}"] += 1
            continue
        compiled += 1
        warned.update({warning.category.__name__ for warning in caught})
        if args.verify:
            exact += optracr.verify(model, program).ok
    total = args.programs
    print(f"{total} programs (seeds {args.seed}..{args.seed + total - 1}, {args.num_sops} s-ops each, "
          f"vocab {sorted(VOCAB)}, max_seq_len {MAX_SEQ_LEN}, causal={args.causal}) in {time.perf_counter() - started:.0f} s")
    print(f"compiled {compiled} ({compiled / total:.1%})" + (f", exact {exact}" if args.verify else ""))
    for category, count in warned.most_common():
        print(f"  {count:5d} {count / total:6.1%}  compiled with a {category}")
    print(f"refused {sum(refused.values())} ({sum(refused.values()) / total:.1%}), by message (first problem):")
    for message, count in refused.most_common():
        print(f"  {count:5d} {count / total:6.1%}  {message}")
    if crashed:
        print(f"crashed {sum(crashed.values())}:")
        for message, count in crashed.most_common():
            print(f"  {count:5d}  {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
