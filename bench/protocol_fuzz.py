"""Fuzz: hostile protocol folders (``--protocol DIR``), as an amendment gone wrong makes them.

Exports the bundled protocol, then, N times, copies it and applies one random mutation: half
the time a semantic one of tests/protocol_mutations.py (counts, deactivation, targets,
severities, outcomes, ids, policies, logical wrappers, paths, numbers: the property test's),
else a textual one to one shapes file or the ontology (a line deleted or doubled, a number
replaced by -1, 0, 1e400, NaN, a string…, an outcome or a criterion id swapped, a sh:minCount
changed, a placeholder appended), and runs ``criteria`` and ``screen`` of the bundled examples
under it, in process.
Every run must end with exit 0, 1 or 2 and no internal error or traceback (a folder is used
or refused with its file named), and under every folder that is used, a patient whose data is
missing (an eligible example without its results, or with nothing but its id) is never
eligible. A mutation may legitimately change who is eligible among complete records (it is an
amendment); the count of such runs is printed, not failed. Prints the exit codes seen and
``bad N`` (0 expected).

    python bench/protocol_fuzz.py [--seed S] [--n N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from ql1706kg.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import protocol_mutations

HERE = Path(__file__).resolve().parents[1]
EXAMPLES = str(HERE / "examples" / "patients")
SCREEN = ["screen", EXAMPLES, "--as-of", "2026-11-20", "--format", "json", "--quiet"]
ELIGIBLE = HERE / "examples" / "patients" / "eligible-leiomyosarcoma.json"
NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)?(?![\w.])")
OUTCOMES = ["ql:Unknown", "ql:NotMet", "ql:NotApplicable", "ql:Met"]


def mutate_folder(folder: Path, rng: random.Random) -> tuple[str, str]:
    """Half the time a semantic mutation of tests/protocol_mutations.py (counts, deactivation,
    targets, severities, outcomes, ids, policies, logical wrappers, paths, numbers), else a
    textual one of :func:`mutate`; returns (the file or files changed, the kind)."""
    if rng.random() < 0.5:
        what = protocol_mutations.apply(folder, rng)
        return what.split(": ", 1)[1], "semantic " + what.split(":", 1)[0]
    files = [*sorted((folder / "shapes").glob("*.ttl")), folder / "ontology" / "ql1706kg.ttl"]
    target = rng.choice(files)
    text, kind = mutate(target.read_text(encoding="utf-8"), rng)
    target.write_text(text, encoding="utf-8")
    return str(target.relative_to(folder)), kind


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One random mutation of a Turtle file's text, and its kind."""
    lines = text.split("\n")
    kind = rng.choice(["delete", "double", "number", "outcome", "criterion", "count", "text"])
    i = rng.randrange(len(lines))
    if kind == "delete":
        del lines[i]
    elif kind == "double":
        lines.insert(i, lines[i])
    elif kind == "number":
        found = [(j, m) for j, line in enumerate(lines) for m in NUMBER.finditer(line)]
        if found:
            j, m = rng.choice(found)
            new = rng.choice(["-1", "0", "1e400", "99999999", "0.0001", '"x"', "NaN", "2"])
            lines[j] = lines[j][:m.start()] + new + lines[j][m.end():]
    elif kind == "outcome":
        return text.replace(rng.choice(OUTCOMES[:3]), rng.choice(OUTCOMES), 1), kind
    elif kind == "criterion":
        ids = re.findall(r"ql:IC[\w.-]+", text)
        if len(ids) > 1:
            first, second = rng.sample(ids, 2)
            return text.replace(first, second, 1), kind
    elif kind == "count":
        new = rng.choice(["sh:minCount 0", "sh:maxCount 0", "sh:minCount 2"])
        return text.replace("sh:minCount 1", new, 1), kind
    else:
        lines[i] += ' "{sh:' + rng.choice(["minInclusive", "foo", "|x"]) + '"'
    return "\n".join(lines), kind


def eligible(result) -> int:
    return sum(p["verdict"] == "eligible" for p in json.loads(result.stdout)["patients"])


def missing_data(folder: Path) -> Path:
    """Records whose data is missing: the eligible example without its results, without each
    one of them (its weight aside: a measured clearance needs none), and with nothing but
    its id, sex and birth date."""
    record = json.loads(ELIGIBLE.read_text(encoding="utf-8"))
    bare = {key: record[key] for key in ("id", "sex", "birth_date") if key in record}
    no_results = {**record, "id": record["id"] + "-no-results", "observations": []}
    each = [{**record, "id": f"{record['id']}-no-{o['test']}",
             "observations": [x for x in record["observations"] if x is not o]}
            for o in record["observations"] if o["test"] != "weight"]
    path = folder / "missing.json"
    path.write_text(json.dumps([no_results, {**bare, "id": record["id"] + "-bare"}, *each]))
    return path


def main_fuzz(seed: int, n: int) -> int:
    rng = random.Random(seed)
    base = Path(tempfile.mkdtemp(prefix="ql1706kg-protocol-fuzz-"))
    try:
        CliRunner().invoke(main, ["protocol", "export", str(base / "bundled")])
        ceiling = eligible(CliRunner().invoke(main, SCREEN))
        missing = missing_data(base)
        changed = 0
        tally: Counter = Counter()
        kinds: Counter = Counter()
        bad = 0
        for number in range(n):
            folder = base / f"m{number}"
            shutil.copytree(base / "bundled", folder)
            target, kind = mutate_folder(folder, rng)
            for args in (["criteria"], SCREEN):
                result = CliRunner().invoke(main, [*args, "--protocol", str(folder)])
                tally[(args[0], result.exit_code)] += 1
                said = (result.stderr or "") + (result.stdout or "")
                if (result.exit_code not in (0, 1, 2) or "internal error" in said
                        or "Traceback" in said):
                    bad += 1
                    print("bad:", number, target, kind, result.exit_code,
                          said[-300:].replace("\n", " | "))
                    break
                if args is SCREEN and result.exit_code in (0, 1):
                    changed += eligible(result) != ceiling
                    probe = CliRunner().invoke(main, ["screen", str(missing), "--protocol",
                                                      str(folder), *SCREEN[2:]])
                    if probe.exit_code not in (0, 1) or eligible(probe):
                        bad += 1
                        print("missing data eligible:", number, target, kind,
                              probe.exit_code)
            kinds[(kind, "used" if result.exit_code in (0, 1) else "refused")] += 1
            shutil.rmtree(folder)
        print(f"{n} mutations, exit codes {dict(sorted(tally.items()))}, "
              f"{changed} changed who is eligible among the examples, bad {bad}")
        for (kind, fate), count in sorted(kinds.items()):
            print(f"  {kind:<24} {fate:<8} {count}")
        return bad
    finally:
        CliRunner().invoke(main, ["criteria"])  # back to the bundled protocol
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n", type=int, default=60)
    arguments = parser.parse_args()
    raise SystemExit(1 if main_fuzz(arguments.seed, arguments.n) else 0)
