"""``mhmailbox prove``, ``mhmailbox check-certificate`` and ``verify --certificate DIR``."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from mhmailbox.cli import finite_positive, int_up_to, positive_int
from mhmailbox.errors import UsageError
from mhmailbox.model.engines import MAX_BUFFER
from mhmailbox.model.memory import MODELS
from mhmailbox.model.properties import GUESTS, HOSTS
from mhmailbox.model.cells import chosen_cells
from mhmailbox.model.user_variant import variant_arg
from mhmailbox.progress import Progress

from .certificate import check_target
from .store import USER_STORE_ENV, user_store

DEFAULT_BUDGET = 600.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prove", help="find, check and store the invariants kind needs for a variant, then prove its properties",
        description="For each cell of the variant: mine candidate invariants from the states the explicit engine "
                    "reaches, keep the inductive ones (Houdini), store them in your store (read first by verify "
                    "--engine kind|pdr), then prove each property with kind. A set already proved for the same "
                    "model is reused. What cannot be proved stays unknown, with the reason. Exit 0 when the run "
                    "completed, whatever the verdicts.")
    p.add_argument("--variant", required=True, type=variant_arg, metavar="VARIANT",
                   help="rfc, hardened, broken:NAME or your own PATH.py:Class (docs/variants.md)")
    p.add_argument("--memory", action="append", choices=MODELS, help="sc, tso or relaxed (repeatable; default all)")
    p.add_argument("--guest", action="append", choices=GUESTS, help="guest behaviour (repeatable; default all)")
    p.add_argument("--host", action="append", choices=HOSTS, help="host behaviour (repeatable; default both)")
    p.add_argument("--property", action="append", metavar="ID", help="only these properties (repeatable)")
    p.add_argument("--budget", type=finite_positive, default=DEFAULT_BUDGET, metavar="SECONDS",
                   help=f"time for the whole run, shared out over the cells (default {DEFAULT_BUDGET:g})")
    p.add_argument("--store", metavar="PATH",
                   help=f"the invariant store to write (default ${USER_STORE_ENV}, else "
                        "$XDG_DATA_HOME/mhmailbox/proved-invariants.json)")
    p.add_argument("--buffer", type=int_up_to(MAX_BUFFER), default=2, help="store-buffer entries per thread (default 2)")
    p.add_argument("--jobs", "-j", type=positive_int, default=1,
                   help="prove N cells at once in forked workers (default 1; each then gets N/cells of the budget)")
    p.add_argument("--certificate", metavar="DIR", help="write each proof's SMT-LIB certificate into DIR")
    p.add_argument("--force", action="store_true", help="write certificates into a DIR that already has some")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run_prove)

    c = sub.add_parser(
        "check-certificate", help="re-check proof certificates with cvc5 (no Z3)",
        description="Re-check every obligation of the certificates in DIR (written by prove or verify "
                    "--certificate) with cvc5: each file's hash against the manifest, its goal against the "
                    "obligation's, one invariant per proof, and cvc5's answer (unsat: holds). Exit 0 only when "
                    "every obligation holds; 1 when one fails or times out; 2 when DIR holds no certificate.")
    c.add_argument("directory", metavar="DIR")
    c.add_argument("--timeout", type=finite_positive, default=300.0, metavar="S",
                   help="seconds cvc5 may spend on one obligation (default 300; the slowest of the 96 hardened "
                        "proofs' 327 obligations took 84 s)")
    c.add_argument("--jobs", "-j", type=positive_int, default=1, metavar="N",
                   help="cvc5 processes at a time (default 1)")
    c.add_argument("--model", action="store_true",
                   help="also require Init, Trans and Bad to be the ones this installation's model gives for the "
                        "cell (Z3 prints them; cvc5 still does all the solving)")
    c.add_argument("--variant", action="append", type=variant_arg, metavar="PATH.py:Class",
                   help="with --model: a variant of your own that the certificates name (repeatable)")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    c.set_defaults(func=run_check_certificate)

    verify = sub.choices.get("verify")
    if verify is not None:  # verify --engine kind|pdr --certificate DIR
        verify.add_argument("--certificate", metavar="DIR",
                            help="with --engine kind, pdr or all: write each proof's SMT-LIB certificate into DIR "
                                 "(an empty or new directory; check it with mhmailbox check-certificate DIR)")
        run = verify.get_default("func")

        def run_verify(args: argparse.Namespace) -> int:
            if args.certificate:
                if args.engine not in ("kind", "pdr", "all"):
                    raise UsageError("verify: --certificate needs --engine kind, pdr or all (the engines that prove)")
                check_target(args.certificate, force=False, remedy="verify writes only into an empty or new directory")
            return run(args)

        verify.set_defaults(func=run_verify)


def _check_store(path: str) -> None:
    """UsageError unless ``path`` can be the store: a JSON file or none yet, in a directory that
    exists or can be made, writable (checked before the mining, not after it)."""
    if os.path.isdir(path):
        raise UsageError(f"prove: the store {path} is a directory, not a file")
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as fh:
                json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"prove: the store {path} is not readable JSON ({exc}); move it away") from None
    here = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(here):  # the nearest existing ancestor is where the folders get made
        here = os.path.dirname(here)
    if not os.path.isdir(here):
        raise UsageError(f"prove: the store {path} is below {here}, which is not a directory")
    if not os.access(here if not os.path.exists(path) else path, os.W_OK):
        raise UsageError(f"prove: the store {path} cannot be written (no permission in {here})")


def run_prove(args: argparse.Namespace) -> int:
    from .prove import prove

    props, todo = chosen_cells(args, [args.variant], "prove")
    if args.certificate:
        check_target(args.certificate, force=args.force)
    store_path = args.store or user_store()
    _check_store(store_path)
    os.environ[USER_STORE_ENV] = store_path  # kind (and forked workers) read this store first
    cell_args = argparse.Namespace(deadline=2, quantum=1, buffer=args.buffer, script=None, depth=None,
                                   time_limit=None, certificate=None)
    t0 = time.perf_counter()
    with Progress(len(todo)) as progress:
        def log(message: str) -> None:  # what each cell is doing, beside the progress line
            with progress.paused():
                print(message, file=sys.stderr, flush=True)

        proofs = prove(todo, props, cell_args, args.budget, store_path, certificate=args.certificate, log=log,
                       progress=progress, jobs=args.jobs)
    seconds = time.perf_counter() - t0
    results = [r for p in proofs for r in p.results]
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    if args.json:
        print(json.dumps({"variant": args.variant, "store": store_path, "certificate": args.certificate,
                          "cells": [p.to_json() for p in proofs],
                          "summary": {"cells": len(proofs), "results": len(results), "verdicts": counts,
                                      "seconds": round(seconds, 2)}}, indent=1))
        return 0
    head = ("property", "memory", "guest", "host", "verdict", "k", "note")
    rows = [head] + [(r.property, r.memory, r.guest, r.host, r.verdict, str(r.depth) if r.verdict == "proved" else "",
                      r.note) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    for j, row in enumerate(rows):
        print("  ".join(x.ljust(w) for x, w in zip(row, widths)) + "  " + row[-1])
        if j == 0:
            print("  ".join("-" * w for w in widths) + "  ----")
    print()
    for p in proofs:
        how = {"reused": f"reused {p.invariants} invariants proved for this model",
               "mined": f"{p.states} states, {p.candidates} candidates, {p.invariants} inductive"
                        + ("" if p.finished else " (Houdini out of time: none stored)"),
               "none": p.reason}[p.source]
        print(f"{p.key}: {how}; {p.seconds.get('total', 0):.1f} s")
    verdict_text = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    print(f"{len(proofs)} cells, {len(results)} verdicts: {verdict_text}; invariants stored in {store_path}; "
          f"{seconds:.1f} s")
    if args.certificate:
        print(f"certificates in {args.certificate}: check them with mhmailbox check-certificate {args.certificate}")
    return 0


def run_check_certificate(args: argparse.Namespace) -> int:
    from .certificate_check import CertificateError, check, to_json

    bar: list[Progress] = []

    def progress(i: int, n: int, ob) -> None:  # after each obligation cvc5 has answered
        if not bar:
            bar.append(Progress(n))
        bar[0].finish(ob.file)

    try:
        model = None
        if args.model:
            from .certificate import model_definitions as model
        report = check(args.directory, timeout=args.timeout, progress=progress, model=model, jobs=args.jobs)
    except CertificateError as exc:
        raise UsageError(f"check-certificate: {exc}") from None
    finally:
        for b in bar:
            b.close()
    if args.json:
        print(json.dumps(to_json(report), indent=1))
        return 0 if report.ok else 1
    status = {o.file: o for o in report.obligations}
    for proof in report.proofs:
        obs = [status[f] for f in proof["files"] if f in status]
        bad = [o for o in obs if o.status != "holds"]
        word = "HOLDS" if not bad else ("FAILS" if any(o.status == "fails" for o in bad) else "TIMEOUT")
        print(f"{word:7s}  {proof['cell']}  {proof['property']}  ({proof['engine']}, {proof['k']}-induction): "
              f"{len(obs) - len(bad)} of {len(obs)} obligations hold")
        for o in bad:
            print(f"         {o.status}: {o.file}: {o.reason}")
    c = report.counts()
    n = len(report.proofs)
    print(f"{n} proof{'' if n == 1 else 's'}, {len(report.obligations)} obligations: {c['holds']} hold, {c['fails']} fail, "
          f"{c['timeout']} time out (cvc5, {report.seconds:.1f} s)")
    return 0 if report.ok else 1
