"""The compile flags every compiling command shares, derived from ``CompileOptions``: one table, one builder.

Each plain field of ``CompileOptions`` has one ``Flag`` here (its names and help; its default and valid values
are read off the dataclass, so they are written only there). A flag the user leaves out is not passed on, so
the option keeps ``CompileOptions``'s default. ``vocab`` and ``max_seq_len`` come from the program argument
and ``--vocab``/``--max-seq-len``; ``causal`` and ``passes`` have flags of their own shape (``SHAPED_FIELDS``).
Adding an option means adding its field to ``CompileOptions`` and its ``Flag`` here (a test checks that every
field has one).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Hashable
from typing import Any

from optracr import options as options_lib
from optracr.errors import CompileError


@dataclasses.dataclass(frozen=True)
class Flag:
    """The command-line flag of one ``CompileOptions`` field."""

    field: str
    name: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: tuple[Any, ...] | None = None


FLAGS = (
    Flag("bos", "--bos", "the token every input starts with"),
    Flag("pad", "--pad", "the token filling positions after the input"),
    Flag("allocator", "--allocator", "how blocks are placed in layers", choices=options_lib.ALLOCATORS),
    Flag("time_limit_s", "--time-limit", "the solver's time limit in seconds", type=float),
    Flag("workers", "--solver-workers", "the solver's threads (1 is deterministic)", type=int),
    Flag("seed", "--solver-seed", "the solver's seed", type=int),
    Flag("partial_functions", "--partial-functions", "allow: compile Maps whose function raises on some input "
         "values (no value there; verify counts those inputs as undefined)", choices=options_lib.PARTIAL_FUNCTIONS),
)
# fields with flags of another shape: the program's vocabulary and length, --causal/--causal-strict, and the passes
SHAPED_FIELDS = ("vocab", "max_seq_len", "causal", "passes")


def add_compile_flags(command: argparse.ArgumentParser) -> None:
    """Every compile flag (but --vocab and --max-seq-len, which each command words for its programs)."""
    group = command.add_argument_group("compile options")
    for flag in FLAGS:
        default = getattr(options_lib.CompileOptions, flag.field)
        group.add_argument(flag.name, dest=_dest(flag), type=flag.type, choices=flag.choices,
                           default=argparse.SUPPRESS, help=f"{flag.help} (default: {default})")
    group.add_argument("--causal", action="store_true", default=argparse.SUPPRESS,
                       help="compile with causal attention: the model computes the program's causal meaning "
                       "(a warning names each selector that can pick a later position)")
    group.add_argument("--causal-strict", action="store_true", default=argparse.SUPPRESS,
                       help="causal attention, refusing a selector that can pick a later position")
    group.add_argument("--no-fold", dest="fold", action="store_false", default=argparse.SUPPRESS,
                       help="skip the fold pass: give every s-op a block, even one its readers could compose")
    group.add_argument("--no-fuse", dest="fuse", action="store_false", default=argparse.SUPPRESS,
                       help="skip the fuse pass: never compute several MLP blocks in one MLP sublayer")
    group.add_argument("--fused-width-cap", dest="fused_width_cap", type=int, default=argparse.SUPPRESS,
                       help="the fuse pass's widest fused MLP (default: 4 x the widest unfused MLP, at least 256)")
    group.add_argument("--reference-structure", action="store_true", default=argparse.SUPPRESS,
                       help="run no pass: the reference's structure, one component per s-op, every s-op in the "
                       "residual (--no-fold --no-fuse)")


def compile_options(args: argparse.Namespace, vocab: list[Hashable] | None,
                    max_seq_len: int | None) -> options_lib.CompileOptions:
    """The one ``CompileOptions`` the command's arguments stand for (vocab and max_seq_len as resolved)."""
    given = vars(args)
    keywords: dict[str, Any] = {flag.field: given[_dest(flag)] for flag in FLAGS if _dest(flag) in given}
    if given.get("causal_strict"):
        keywords["causal"] = options_lib.STRICT_CAUSAL
    elif given.get("causal"):
        keywords["causal"] = True
    if given.get("reference_structure"):
        if "fused_width_cap" in given:
            raise CompileError(None, "--fused-width-cap caps the fuse pass, which --reference-structure turns off; "
                               "drop one")
        keywords["passes"] = ()
    else:
        keywords.update({name: given[name] for name in ("fold", "fuse", "fused_width_cap") if name in given})
    if vocab is not None:
        keywords["vocab"] = vocab
    if max_seq_len is not None:
        keywords["max_seq_len"] = max_seq_len
    return options_lib.from_keywords(keywords=keywords)


def _dest(flag: Flag) -> str:
    """Where argparse keeps the flag's value, apart from a command's own arguments (dataset's --seed, --workers)."""
    return f"option_{flag.field}"
