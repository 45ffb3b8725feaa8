"""``--protocol DIR`` checked before it is used: the static checks of the folder's text
(:mod:`ql1706kg.protocol.check`), then the behavioural check that screens synthetic patients
under it (:mod:`.protocol_probe`). A folder is refused (:class:`ProtocolRefused`, exit 2 in
the CLI) on the first failure, naming the file, the criterion and the shapes.

The outcome of a folder that passes is cached on disk by the folder's content, this code and
the SHACL engine, so starting again on the same folder costs a hash; the bundled protocol is
never checked at run time (the test suite checks it), so the normal path imports no pySHACL.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rdflib import Graph

from ..inputs.fhir import elements
from ..protocol import meta, shape_walk
from ..protocol.check import ProtocolRefused, folder_files, folder_hash, static_check
from ..protocol.fact_kinds import FactKind, build_fact_kinds
from ..protocol.namespaces import QL
from ..protocol.resources import cache_dir, protocol, read_cache, use_protocol, write_cache
from ..version import __version__
from . import logic_probe, protocol_probe
from .validate import engine

__all__ = ["ProtocolRefused", "check_protocol", "checked_protocol", "load_protocol"]
_HERE = Path(__file__).resolve().parent
# what a check's outcome depends on besides the folder: the probe, its patients, and the
# steps that screen them (a new release that changes one checks the folder again)
_CODE = (Path(__file__), Path(protocol_probe.__file__), protocol_probe.PROBES_FILE,
         _HERE / "validate.py", _HERE / "shacl_compiled.py", _HERE / "judge.py",
         _HERE / "compose.py", Path(logic_probe.__file__),
         *sorted((_HERE.parent / "protocol").glob("*.py")),  # every static check
         Path(elements.__file__).with_name("elements.json"))


def check_protocol(folder: Path | str) -> list[str]:
    """The notes on a protocol folder that can be used; :class:`ProtocolRefused` otherwise."""
    folder = Path(folder)
    files = folder_files(folder)
    key = f"{folder_hash(files, *_CODE, *_meta_files())}-{engine()}-{__version__}"
    path = cache_dir() / f"protocol-check-{key}.pickle"
    cached = read_cache(path, lambda value: isinstance(value, dict) and value.get("key") == key)
    if cached is not None:
        return [str(note) for note in cached["notes"]]
    notes, graphs = static_check(folder)
    declared_types_covered(folder, graphs["ontology"])
    try:
        count = protocol_probe.probe(folder, graphs["shapes"], graphs["ontology"])
        logic_probe.no_data_probe(folder)
    except protocol_probe.ProbeFailure as exc:
        raise ProtocolRefused(f"{folder}: {exc}") from None
    except ProtocolRefused:
        raise
    except Exception as exc:  # screening under the folder failed: it cannot be used
        raise ProtocolRefused(f"{folder}: screening a synthetic patient under this protocol "
                              f"failed ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                              "); every patient would be an error") from None
    write_cache(path, pickle.dumps({"key": key, "notes": notes, "probes": count}))
    return notes


def declared_types_covered(folder: Path, ontology: Graph) -> None:
    """Refuse a declared fact kind whose ``ql:fhirResourceType`` the FHIR reader's element
    table does not cover: the reader would not know the type's status elements and modifiers,
    so it could not tell whether such a resource counts (an entered-in-error or refuted one
    would be read as a fact)."""
    covered = frozenset(elements.element_table().declarable)
    kinds, _ = build_fact_kinds(ontology)
    for kind in sorted(kinds.values(), key=lambda k: k.key):
        for rtype in kind.fhir_types if kind.built_in is None else ():
            if rtype not in covered:
                raise ProtocolRefused(
                    f"{_declaring_file(folder, kind, rtype)}: fact kind '{kind.key}' "
                    f"({kind.iri}) names the FHIR resource type '{rtype}' "
                    "(ql:fhirResourceType), which the FHIR reader's element table does not "
                    "cover: it could not tell whether such a resource counts (its status "
                    "elements and modifiers are not known). Types it covers: "
                    f"{', '.join(sorted(covered))}")


def _declaring_file(folder: Path, kind: FactKind, rtype: str) -> Path:
    """The ontology file that gives the kind that type (parsed only to name it)."""
    for file in sorted((folder / "ontology").glob("*.ttl")):
        graph = Graph().parse(file, format="turtle")
        if any(str(o) == rtype for o in graph.objects(kind.iri, QL.fhirResourceType)):
            return file
    return folder / "ontology"


def _meta_files() -> tuple[Path, ...]:
    return (Path(meta.__file__), meta.META_FILE, Path(shape_walk.__file__))


def load_protocol(folder: Path | str) -> list[str]:
    """Check ``folder`` and make it the current protocol; return the notes found (criteria
    added or removed, quotes that differ from their limits). Raises :class:`ProtocolRefused`."""
    notes = check_protocol(Path(folder))
    use_protocol(folder)
    return notes


@contextmanager
def checked_protocol(folder: Path | str | None) -> Iterator[list[str]]:
    """The Python API's ``--protocol``: check ``folder`` as the CLI does (refused with
    :class:`ProtocolRefused`), then use it for the duration of a ``with`` block, giving the
    notes (None: the bundled protocol, no notes)."""
    notes = check_protocol(Path(folder)) if folder is not None else []
    with protocol(folder):
        yield notes
