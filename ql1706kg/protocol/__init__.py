"""The protocol as data, and access to it: bundled files, namespaces, the terminology (the
ontology closure as lookup tables) and unit conversion. Every other layer reads the protocol
through here; nothing here knows about patients."""
