"""The semantic-web face: SPARQL over verdicts (named queries), the read-only endpoint and
push to a store, and the publication of the ontology and the study for registries."""
