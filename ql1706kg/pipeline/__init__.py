"""The screening of one patient, step by step: lift the record to RDF, derive what the
criteria compare, validate against the shapes, judge each criterion and explain it; plus the
result types and the executors that run batches in parallel."""
