"""Writing results for people and programs: text, JSON, NDJSON, Turtle and JSON-LD verdicts,
and the HTML attrition report."""
