"""Reading patients: the record model, the readers of JSON, NDJSON, tables and FHIR R4 that
turn files into validated records (or errors naming file, record and field), the FHIR writer
and the synthetic cohort."""
