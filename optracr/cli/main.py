"""The ``optracr`` command: list, compile, verify, show, explore, export, compress and scramble library programs;
build datasets of compiled models."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Hashable, Sequence
from importlib import metadata
from pathlib import Path

from optracr import programs
from optracr.cli import compile_flags
from optracr.cli import tokens as cli_tokens
from optracr import user_programs
from optracr.errors import CausalMeaningWarning, CompileError, OptracrError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``optracr`` command; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # a usage error (already printed) or --help: its status, not an exit
        return exit_request.code if isinstance(exit_request.code, int) else 2
    try:
        with warnings.catch_warnings():  # optracr's warnings are shown, once each, as one line like its errors
            warnings.simplefilter("default", CausalMeaningWarning)
            warnings.showwarning = functools.partial(_show_warning, warnings.showwarning)
            status = args.run(args)
        sys.stdout.flush()  # here, where a closed pipe can still be caught, not at interpreter exit
        return status
    except OptracrError as error:
        print(f"optracr: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`optracr ... | head`): stop quietly, as Python's docs advise
        _discard_stdout()
        return 1


def _discard_stdout() -> None:
    """Points stdout at /dev/null, so that flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file descriptor (e.g. captured): nothing will flush into a pipe
        pass


def _show_warning(python_show, message, category, filename, lineno, file=None, line=None) -> None:
    """A ``CausalMeaningWarning`` as ``optracr: warning: ...`` on stderr; any other warning as ``python_show`` does."""
    if issubclass(category, CausalMeaningWarning):
        print(f"optracr: warning: {message}", file=sys.stderr)
    else:
        python_show(message, category, filename, lineno, file, line)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="optracr", description="Compile RASP programs into transformer weights.")
    parser.add_argument("--version", action="version", version=f"optracr {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list the library programs")
    listing.set_defaults(run=_list)
    for name, run, help_text in (
        ("compile", _compile, "compile a library program and print its model summary"),
        ("verify", _verify, "check a compiled program against the RASP evaluator (every input, or a proof)"),
        ("certify", _certify, "prove from a compiled program's weights that it is exact on every input"),
        ("show", _show, "draw the residual stream or attention on one input, or the solver's layout"),
        ("export", _export, "compile a program and write it for TransformerLens or as safetensors + JSON"),
        ("compress", _compress, "learn a D x d projection of the residual stream (section 5) and save the variant"),
        ("scramble", _scramble, "save the same function with scrambled weights (a seeded rotation of every basis)"),
        ("explore", _explore, "look inside the model in the browser on any input (a local page, or --html FILE)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "program",
            help="a library program name (see `optracr list`), or path/to/file.py:NAME or package.module:NAME where "
            "NAME is an s-op or a function returning one, called with no arguments (then --vocab and --max-seq-len "
            "are required)",
        )
        _add_vocab_arguments(command, default=None)
        command.add_argument("--max-seq-len", type=int, help="longest input (default: the program's)")
        compile_flags.add_compile_flags(command)
        if name in ("compile", "show"):
            command.add_argument(
                "--input", help='input tokens (BOS is added): space-separated, each read as the vocabulary token it '
                'spells, e.g. "x a c x", or a JSON list, e.g. \'[0, 1, "x"]\''
                + ("; needed for the residual and attention pictures" if name == "show" else "")
            )
        if name == "compile":
            command.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        if name == "show":
            command.add_argument("--what", choices=SHOW_WHAT, default="residual",
                                 help="residual: the residual stream after every sublayer, one band per s-op; "
                                 "attention: every head's pattern, titled with its selector; layout: where the "
                                 "allocation put each block, beside the heuristic's")
            command.add_argument("--out", help="where to write the picture (.png, .svg, .pdf; default WHAT.png)")
            command.add_argument("--all-rows", action="store_true",
                                 help="residual picture: every direction and every sublayer, used or not")
        if name == "explore":
            _add_explore_arguments(command)
        if name == "verify":
            command.add_argument(
                "--progress", action=argparse.BooleanOptionalAction, default=None,
                help="a progress bar on stderr for runs over a second (default: when stderr is a terminal)",
            )
            command.add_argument("--certify", action="store_true",
                                 help="also prove the model exact on every input (by default only when there are "
                                 "too many inputs to enumerate)")
            command.add_argument("--samples", type=_positive, default=2000,
                                 help="inputs to sample where there are too many to enumerate and the proof fails")
            command.add_argument("--exhaustive-limit", type=_positive, default=20_000,
                                 help="enumerate every input when there are at most this many (default 20000)")
        if name == "certify":
            command.add_argument("--json", action="store_true", help="print the certificate as JSON")
            command.add_argument("--out", help="also write the certificate as JSON to this file")
            command.add_argument("--search-seconds", type=float, default=2.0,
                                 help="how long to look for a counterexample where the proof fails (default 2)")
        if name == "export":
            command.add_argument("--format", choices=EXPORT_FORMATS, required=True,
                                 help="tl: TransformerLens bridge weights + config; safetensors: optracr.load-able")
            command.add_argument("--out", required=True, help="the directory to write into")
        if name in ("compress", "scramble"):
            _add_variant_arguments(command, name)
        command.set_defaults(run=run)
    _add_dataset_command(commands)
    return parser


def _list(args: argparse.Namespace) -> int:
    for entry in programs.LIBRARY.values():
        vocab = cli_tokens.show_tokens(entry.vocab)
        print(f"{entry.name:<22} vocab {vocab:<32} max_seq_len {entry.max_seq_len:<3} {entry.description}")
    return 0


def _add_vocab_arguments(command: argparse.ArgumentParser, *, default: str | None) -> None:
    """``--vocab`` (``default``: None for the program's own) and ``--vocab-type``."""
    shown_default = default or "the program's own"
    command.add_argument(
        "--vocab", type=_vocab_text, default=default,
        help=f"the input tokens (default: {shown_default}): comma-separated, read as --vocab-type "
        "says, or a JSON list such as '[0, 1, \"x\"]', which carries each token's type",
    )
    command.add_argument(
        "--vocab-type", choices=cli_tokens.VOCAB_TYPES, default="auto",
        help="how to read comma-separated --vocab and space-separated --input tokens (default auto: as the "
        "program's own vocabulary, or, for a program without one, only text that reads one way: all integers, "
        "all decimals or all words; anything else is refused with the readings that would work)",
    )


def _vocab_text(text: str) -> str:
    """``--vocab``'s text, refused when it names no token (an empty vocabulary is never what was meant)."""
    if not [token for token in text.strip(" []").split(",") if token.strip()]:
        raise argparse.ArgumentTypeError(
            f"{text!r} names no token; give comma-separated tokens, e.g. --vocab a,b,c, or leave --vocab out "
            "to use the program's own vocabulary (see `optracr list`)"
        )
    return text


def _setup(args: argparse.Namespace) -> tuple[programs.LibraryProgram, list[Hashable], int]:
    """The program the command names, the vocabulary to compile it for (as typed), and max_seq_len."""
    if args.vocab is None and args.vocab_type != "auto":
        raise CompileError(
            None, f"--vocab-type {args.vocab_type} says how to read --vocab, but no --vocab is given; give --vocab "
            "too, or leave --vocab-type out to use the program's own vocabulary"
        )
    if args.program in programs.LIBRARY:
        entry = programs.LIBRARY[args.program]
        vocab = sorted(entry.vocab, key=repr) if args.vocab is None else cli_tokens.read_vocab(
            args.vocab, vocab_type=args.vocab_type, program_vocab=entry.vocab, program_name=entry.name
        )
    else:
        entry = _user_program(args)
        vocab = sorted(entry.vocab, key=repr)  # read from --vocab: the program has no vocabulary of its own
    max_seq_len = args.max_seq_len if args.max_seq_len is not None else entry.max_seq_len
    return entry, vocab, max_seq_len


def _user_reference(name: str) -> user_programs.ProgramReference:
    """``file.py:NAME`` or ``module:NAME``; an error saying what to write for anything else."""
    reference = user_programs.parse_reference(name)
    if reference is not None:
        return reference
    if name.endswith(".py"):
        listing = ""
        if Path(name).is_file():
            module = user_programs.load_module(user_programs.ProgramReference(name, "program", is_file=True))
            listing = f"; {name} defines {user_programs.definitions(module)}"
        raise CompileError(
            None, f"{name!r} is a file, not a program: write {name}:NAME, where NAME is an s-op or a function "
            f"returning one{listing}"
        )
    raise CompileError(
        None, f"no library program called {name!r}; valid names: {', '.join(sorted(programs.LIBRARY))}; or name "
        f"your own program as {user_programs.FORMS}"
    )


def _user_program(args: argparse.Namespace) -> programs.LibraryProgram:
    """``file.py:NAME`` or ``module:NAME`` as a library entry whose vocabulary is --vocab's."""
    reference = _user_reference(args.program)
    if args.vocab is None or args.max_seq_len is None:
        raise CompileError(None, f"{reference}: a program from a file or module needs --vocab and --max-seq-len")
    vocab = cli_tokens.read_vocab(args.vocab, vocab_type=args.vocab_type)
    try:
        program = user_programs.load_program(reference, caller="the command line calls it")
    except CompileError:
        raise
    except Exception as error:  # raised by the user's function while it built the program
        raise CompileError(
            None, f"{reference}: calling {reference.name}() raised an error at "
            f"{user_programs.describe_error(error, user_programs.module_file(reference))}"
        ) from None
    return programs.LibraryProgram(
        name=str(reference), make=lambda _: program, vocab=frozenset(vocab), max_seq_len=args.max_seq_len,
        causal=bool(getattr(args, "causal", False)), description=f"{reference.name} from {reference.where}",
    )


def _version() -> str:
    try:
        return metadata.version("optracr")
    except metadata.PackageNotFoundError:
        return "unknown"


def _compile_entry(args: argparse.Namespace):
    import optracr

    entry, vocab, max_seq_len = _setup(args)
    options = compile_flags.compile_options(args, vocab, max_seq_len)
    start = time.perf_counter()
    model = optracr.compile(entry.build(max_seq_len), options)
    return entry, vocab, max_seq_len, model, time.perf_counter() - start


def _input_tokens(args: argparse.Namespace, vocab: list[Hashable], model) -> list[Hashable]:
    return [model.bos, *cli_tokens.read_input(args.input, vocab, vocab_type=args.vocab_type)]


def _compile(args: argparse.Namespace) -> int:
    entry, vocab, max_seq_len, model, seconds = _compile_entry(args)
    output = None
    if args.input is not None:
        output = model.apply(_input_tokens(args, vocab, model)).decoded
    if args.json:
        print(json.dumps(_summary_json(entry.name, args, model, seconds, output), default=str))
        return 0
    print(model.summary())
    if output is not None:
        print(f"input   {args.input}")
        print(f"output  {' '.join(format_value(value) for value in output)}")
    return 0


def format_value(value: object) -> str:
    """A decoded value for people: floats to 6 significant digits (the model is exact to about 1e-7)."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _summary_json(name: str, args: argparse.Namespace, model, seconds: float, output) -> dict:
    config, allocation = model.config, model.allocation
    summary = {
        "program": name,
        "allocator": model.options.allocator,
        "num_layers": config.num_layers,
        "num_heads": config.num_heads,
        "key_size": config.key_size,
        "value_size": config.value_size,
        "mlp_hidden_size": config.mlp_hidden_size,
        "d_model": config.d_model,
        "params_total": model.params_total,
        "params_nonzero": model.params_nonzero,
        "allocation_status": allocation.status.name,
        "allocation_seconds": allocation.seconds,
        "compile_seconds": seconds,
        "stage_seconds": dict(model.compile_seconds),
        "options": model.options.to_json(),
        "stages": [{"name": stage.name, "seconds": stage.seconds, "summary": stage.summary}
                   for stage in model.provenance.stages],
        "causal": config.causal,
        "sublayers": [list(contents) for contents in model.sublayer_contents],
        "fusion_groups": list(allocation.fusion_groups),
        "ground_truth": model.ground_truth(),
    }
    if output is not None:
        summary["output"] = output
    return summary


def _verify(args: argparse.Namespace) -> int:
    import optracr

    entry, vocab, max_seq_len, model, _ = _compile_entry(args)
    report = optracr.verify(
        model, model.program, vocab=vocab, max_seq_len=max_seq_len, progress=args.progress,
        certify=True if args.certify else None, num_samples=args.samples, exhaustive_limit=args.exhaustive_limit,
    )
    print(report)
    if report.num_checked == 0 and not report.proved:
        print(
            f"optracr: error: nothing was checked: the evaluator has no answer on any of the {report.num_inputs} "
            "inputs; verify with another --vocab or --max-seq-len",
            file=sys.stderr,
        )
        return 3
    return 0 if report.ok else 1


def _certify(args: argparse.Namespace) -> int:
    import optracr

    _, _, _, model, _ = _compile_entry(args)
    certificate = optracr.certify(model, search_seconds=args.search_seconds)
    data = certificate.to_json()
    if args.out:
        Path(args.out).write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1) if args.json else certificate)
    return 0 if certificate.proved else 1


def _positive(text: str) -> int:
    """A positive integer argument."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


SHOW_WHAT = ("residual", "attention", "layout")


def _show(args: argparse.Namespace) -> int:
    import optracr
    from optracr import plotting

    if args.what != "layout" and args.input is None:
        raise CompileError(None, f'the {args.what} picture needs an input: add --input "TOKENS" (BOS is added)')
    entry, vocab, max_seq_len = _setup(args)
    program = entry.build(max_seq_len)  # one program object: the attention titles look up its labels
    options = compile_flags.compile_options(args, vocab, max_seq_len)
    model = optracr.compile(program, options)
    if args.what == "layout":
        other = "heuristic" if options.allocator != "heuristic" else "solver"
        baseline = optracr.compile(program, options.replace(allocator=other))
        figure = plotting.layout_figure(model, baseline, titles=(options.allocator, other), title=entry.name)
    else:
        tokens = _input_tokens(args, vocab, model)
        if args.what == "residual":
            figure = plotting.residual_figure(model, tokens, all_rows=args.all_rows, title=entry.name)
        else:
            figure = plotting.attention_figure(model, tokens, program=program, title=entry.name)
    out = plotting.save(figure, args.out or f"{args.what}.png")
    print(f"wrote {out}")
    return 0


EXPORT_FORMATS = ("tl", "safetensors")


def _export(args: argparse.Namespace) -> int:
    from optracr import export

    entry, _, _, model, _ = _compile_entry(args)
    start = time.perf_counter()
    if args.format == "tl":
        directory = export.save_transformer_lens(model, args.out)
    else:
        directory = export.save(model, args.out)
    files = ", ".join(sorted(path.name for path in directory.iterdir()))
    print(f"wrote {entry.name} ({args.format}) to {directory}: {files} in {time.perf_counter() - start:.2f} s")
    return 0


def _add_dataset_command(commands: argparse._SubParsersAction) -> None:
    dataset = commands.add_parser(
        "dataset", help="compile, verify and save N seeded random programs in shards (resumable)",
        description="Compiles, verifies and saves N seeded random programs into OUT: shards of models in the save "
        "format plus index.jsonl. Run the same command again after an interruption: finished shards are kept.",
    )
    dataset.add_argument("out", help="the dataset directory (created; a rerun finishes it)")
    dataset.add_argument("-n", "--num-programs", type=int, required=True, help="how many programs")
    dataset.add_argument("--seed", type=int, default=0, help="the dataset's seed (program i's seed derives from it)")
    dataset.add_argument("--shard-size", type=int, default=100, help="programs per shard (the unit of resumption)")
    dataset.add_argument("--min-sops", type=int, default=2, help="fewest s-ops per program")
    dataset.add_argument("--max-sops", type=int, default=10, help="most s-ops per program")
    _add_vocab_arguments(dataset, default="a,b,c")
    dataset.add_argument("--max-seq-len", type=int, default=5, help="longest input")
    compile_flags.add_compile_flags(dataset)
    dataset.add_argument("--no-verify", dest="verify", action="store_false", help="compile and save only")
    dataset.add_argument("--timeout", type=float, default=60.0, help="seconds per program before it is an error")
    where = dataset.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local worker processes (default: one per core)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs optracr[dask])")
    dataset.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="a progress bar on stderr (default: when stderr is a terminal)")
    dataset.set_defaults(run=_dataset)


def _dataset(args: argparse.Namespace) -> int:
    from optracr import datasets

    vocab = tuple(cli_tokens.read_vocab(args.vocab, vocab_type=args.vocab_type))
    spec = datasets.DatasetSpec(
        args.num_programs, seed=args.seed, shard_size=args.shard_size, min_sops=args.min_sops,
        max_sops=args.max_sops, vocab=vocab, max_seq_len=args.max_seq_len,
        compile_options=compile_flags.compile_options(args, None, None), verify=args.verify,
    )
    client = _dask_client(args.scheduler) if args.scheduler else None
    progress = _progress(args)
    start = time.perf_counter()
    try:
        result = datasets.write_dataset(args.out, spec, executor=client, workers=args.workers,
                                        timeout_s=args.timeout, progress=progress)
    except KeyboardInterrupt:
        print(f"optracr: interrupted; finished shards are kept: run the same command again to finish {args.out}",
              file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    seconds = time.perf_counter() - start
    if result.shards_unfinished:
        print(f"optracr: {result.shards_unfinished} shards lost a worker and are unfinished; run the same command "
              "again to finish them", file=sys.stderr)
        return 1
    counts = ", ".join(f"{count} {status}" for status, count in sorted(result.statuses.items())) or "nothing new"
    print(f"wrote {result.index}: {spec.num_programs} programs in {spec.num_shards} shards "
          f"({result.shards_skipped} finished before, {result.shards_written} now: {counts}) in {seconds:.1f} s")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    """``--progress`` / ``--no-progress``, else progress bars only when stderr is a terminal (not a log file)."""
    return args.progress if args.progress is not None else sys.stderr.isatty()


def _dask_client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise CompileError(None, "--scheduler needs Dask: pip install 'optracr[dask]'") from None
    return Client(address)


def _add_explore_arguments(command: argparse.ArgumentParser) -> None:
    """Options of ``explore``; its PROGRAM may also be a directory written by ``optracr.save``."""
    command.add_argument("--input", action="append", default=[],
                         help='space-separated input tokens shown first, e.g. "3 1 2" (repeat it for several; '
                         "--html precomputes exactly these)")
    command.add_argument("--html", metavar="FILE",
                         help="write one self-contained page (no server, no network) instead of serving one")
    command.add_argument("--port", type=int, default=0, help="the local port to serve on (default: any free one)")


def _explore(args: argparse.Namespace) -> int:
    import optracr
    from optracr import explore, export

    if Path(args.program).is_dir():  # a saved model: no RASP program, so no expressions or evaluator answers
        try:
            model, title = optracr.load(args.program), Path(args.program).name
        except export.ModelFileError as error:
            raise CompileError(None, f"{error}; or give a library program name (see `optracr list`)") from None
    else:
        entry, _, _, model, _ = _compile_entry(args)
        title = entry.name
    program = model.program  # the very program compiled (None for a loaded model)
    if args.html:
        out = explore.static_page(model, args.input, program=program, title=title).save(args.html)
        print(f"wrote {out}: open it in a browser (it needs no server and no network)")
        return 0
    server = explore.serve(model, program=program, inputs=args.input, title=title, port=args.port)
    print(f"exploring {title} at {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _add_variant_arguments(command: argparse.ArgumentParser, name: str) -> None:
    """Options of ``compress`` and ``scramble``, which both write a variant beside its original."""
    command.add_argument("--out", required=True, help="the directory to write the variant and its original into")
    command.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="progress bars on stderr (default: when stderr is a terminal; --progress in a log file "
                         "writes a line every tenth of the training)")
    if name == "compress":
        command.add_argument("--d", type=int, required=True, help="width of the compressed residual stream")
        command.add_argument("--steps", type=int, default=20_000, help="training steps (default 20000)")
        command.add_argument("--seed", type=int, default=0, help="seed of W's start and of the training inputs")
        command.add_argument("--learning-rate", type=float, default=1e-3, help="starting learning rate (the paper's)")
        command.add_argument("--batch-size", type=int, default=256)
        command.add_argument("--distinct-tokens", action="store_true",
                             help="train on inputs without repeated tokens (e.g. sort_unique)")
        command.add_argument("--scramble-seed", type=int, default=None,
                             help="also scramble each head's maps and MLP units with this seed (exact)")
    else:
        command.add_argument("--seed", type=int, required=True, help="seed of the rotations and shuffles")
        command.add_argument("--scale", type=float, default=2.0,
                             help="head maps and MLP units take positive factors in [1/scale, scale] (1: rotations)")
        for part, what in (("residual", "rotate the residual stream"), ("heads", "map each head's query/key and "
                           "value/output spaces"), ("mlp", "permute and scale each MLP's hidden units")):
            command.add_argument(f"--no-{part}", dest=part, action="store_false", help=f"do not {what}")


def _compress(args: argparse.Namespace) -> int:
    import optracr
    from optracr import compress

    entry, _, _, model, _ = _compile_entry(args)
    compressed = optracr.compress(
        model, args.d, steps=args.steps, seed=args.seed, learning_rate=args.learning_rate,
        batch_size=args.batch_size, distinct_tokens=args.distinct_tokens, progress=_progress(args),
        log_every=max(1, min(100, args.steps // 100)),
    )
    variant = compress.compressed_variant(compressed, seed=args.scramble_seed)
    return _save_variant(entry.name, variant, args, f"D = {model.config.d_model} -> d = {args.d}, "
                         f"{args.steps} steps in {compressed.history.seconds:.1f} s, final loss "
                         f"{compressed.history.loss[-1]:.3e}")


def _scramble(args: argparse.Namespace) -> int:
    from optracr import compress

    entry, _, _, model, _ = _compile_entry(args)
    variant = compress.scramble(model, seed=args.seed, residual=args.residual, heads=args.heads, mlp=args.mlp,
                                scale=args.scale)
    parts = [part for part in ("residual", "heads", "mlp") if getattr(args, part)]
    return _save_variant(entry.name, variant, args, f"seed {args.seed}, scrambled: {', '.join(parts) or 'nothing'}")


def _save_variant(name: str, variant, args: argparse.Namespace, how: str) -> int:
    from optracr import compress

    check = compress.check_variant(variant, progress=_progress(args))
    directory = compress.save_variant(variant, args.out, check=check)
    print(f"{name}: {variant.scrambling.kind} variant ({how})")
    print(f"check against the original: {check}")
    files = ", ".join(sorted(path.name + ("/" if path.is_dir() else "") for path in directory.iterdir()))
    print(f"wrote {directory}: {files}; load with optracr.compress.load_variant({str(directory)!r})")
    return 0
