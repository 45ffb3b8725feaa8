"""Write the element table into docs/fhir.md, between its markers.

    python tools/fhir_elements_doc.py

The table is rendered from ql1706kg/inputs/fhir/elements.json by
``ql1706kg.inputs.fhir.elements.markdown``; tests/test_fhir_elements.py fails while the page
shows another.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ql1706kg.inputs.fhir.elements import markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "fhir.md"
START, END = "<!-- element-table:start -->\n", "<!-- element-table:end -->"


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + markdown() + END + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
