"""Summarize a mutmut run (`make mutation`) per module: killed, survived, equivalent, and the kill rate.

    python benchmarks/mutation_report.py            # reads `mutmut results --all true`, prints markdown

A surviving mutant that changes nothing a caller can observe is *equivalent*; each one is listed, with
the reason, in benchmarks/mutation_equivalent.txt (``mutant name  # why``) and counted apart. The kill
rate is killed / (killed + survived - equivalent): the share of the mutants that are real bugs which the
tests catch. Every other survivor is listed by name, so it can be read with ``mutmut show NAME``.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EQUIVALENT = HERE / "mutation_equivalent.txt"
LINE = re.compile(r"^\s*(vae_helpers\.(\w+)\.\S+): (.+)$")


def read_results(text: str) -> dict[str, tuple[str, str]]:
    """mutant name -> (module, status) from mutmut's ``results`` listing."""
    out = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            out[match.group(1)] = (match.group(2), match.group(3).strip())
    return out


def read_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """mutant name -> why it is equivalent."""
    found = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            name, _, why = line.partition("#")
            if name.strip():
                found[name.strip()] = why.strip()
    return found


def report(results: dict[str, tuple[str, str]], equivalent: dict[str, str]) -> str:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, (module, status) in sorted(results.items()):
        kind = {
            "killed": "killed",
            "survived": "survived",
            "timeout": "killed (timeout)",
            "no tests": "no tests",
            "segfault": "killed",
        }.get(status, status)
        if kind == "survived" and name in equivalent:
            kind = "equivalent"
        counts[module][kind] += 1
        if kind in ("survived", "no tests"):
            survivors.append((name, kind))
    lines = [
        "| module | mutants | killed | killed (timeout) | survived | equivalent | no tests | kill rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = collections.Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        lines.append(_row(module, c))
    lines.append(_row("**all**", total))
    lines += ["", "Kill rate: killed (timeouts included) / (mutants - equivalent - not checked)."]
    lines += ["", f"Equivalent survivors ({sum(c['equivalent'] for c in counts.values())}), with the reason:", ""]
    lines += [
        f"- `{name}`: {why}" for name, why in sorted(equivalent.items()) if results.get(name, ("", ""))[1] == "survived"
    ]
    lines += ["", f"Other survivors ({len(survivors)}):", ""]
    lines += [f"- `{name}` ({kind})" for name, kind in survivors] or ["- none"]
    return "\n".join(lines)


def _row(module: str, c: collections.Counter) -> str:
    killed = c["killed"] + c["killed (timeout)"]
    real = killed + c["survived"] + c["no tests"]
    mutants = sum(v for k, v in c.items() if k != "not checked")
    rate = f"{100 * killed / real:.1f} %" if real else "-"
    return (
        f"| {module} | {mutants} | {c['killed']} | {c['killed (timeout)']} | {c['survived']} | {c['equivalent']} | "
        f"{c['no tests']} | {rate} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", help="a saved `mutmut results --all true` listing (default: run it)")
    parser.add_argument(
        "--equivalent",
        type=Path,
        default=EQUIVALENT,
        help="the list of equivalent mutants (default: benchmarks/mutation_equivalent.txt)",
    )
    args = parser.parse_args(argv)
    mutmut = Path(sys.executable).with_name("mutmut")
    if args.results:
        text = Path(args.results).read_text(encoding="utf-8")
    else:
        text = subprocess.run(
            [str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True
        ).stdout
    print(f"# Mutation testing: {provenance()}\n")
    print(report(read_results(text), read_equivalent(args.equivalent)))
    return 0


def provenance() -> str:
    """Which code was mutated, and with what: the commit of the working folder and mutmut's version."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    try:
        from importlib.metadata import version

        tool = f"mutmut {version('mutmut')}"
    except Exception:
        tool = "mutmut"
    where = f"commit {commit}" + (" with uncommitted changes" if dirty else "") if commit else "this folder"
    return f"{where}, {tool}"


if __name__ == "__main__":
    raise SystemExit(main())
