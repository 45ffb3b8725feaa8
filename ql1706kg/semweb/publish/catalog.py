"""Records for registries that harvest datasets and resolve persistent identifiers:
``publish --as dcat`` (a DCAT 3 catalogue) and ``publish --as w3id`` (the ``.htaccess`` of
``https://w3id.org/ql1706kg``).

DCAT 3 (W3C Recommendation, 22 August 2024, https://www.w3.org/TR/vocab-dcat-3/): a
``dcat:Catalog`` (§6.3) of one ``dcat:Dataset`` (§6.6), the protocol's ontology and shapes,
with one ``dcat:Distribution`` (§6.8) per file and syntax (``dcat:accessURL``,
``dcat:downloadURL``, ``dcat:mediaType`` as an IANA media type IRI, ``dct:format``), and the
verdict endpoint as a ``dcat:DataService`` (§6.7: ``dcat:endpointURL``,
``dcat:endpointDescription`` pointing at its SPARQL service description, ``dct:conformsTo``
the SPARQL 1.1 Protocol). The properties DCAT-AP 3.0.0 makes mandatory are all given
(https://semiceu.github.io/DCAT-AP/releases/3.0.0/: Catalogue — title, description,
publisher; Dataset — title, description; Distribution — access URL; Data Service — title,
endpoint URL; Agent — name), with the ranges it asks for (``foaf:Agent``,
``dct:LicenseDocument``, ``dct:Standard``, ``dct:MediaType``, ``dct:MediaTypeOrExtent``);
tests/data/dcat-ap-3-mandatory.ttl checks them. Title, description, licence, creator and
version are read from the ontology's header, never restated here.

The w3id rules follow the conventions of the perma-id/w3id.org repository: ``Options
+FollowSymLinks``, ``RewriteEngine on``, one ``RewriteCond %{HTTP_ACCEPT}`` block per media
type with a ``303 See Other`` redirect (W3C, "Cool URIs for the Semantic Web", §4.3), HTML for
browsers first unless RDF/XML is preferred, HTML as the fallback.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, XSD

from .export import publication_graph

NAMESPACE = "https://w3id.org/ql1706kg"
DEFAULT_ENDPOINT = "https://example.org/ql1706kg/sparql"
DEFAULT_FILES = "https://example.org/ql1706kg/"
IANA = "https://www.iana.org/assignments/media-types/"
FILE_TYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 (rdflib's DCAT lacks dcat:version)


@dataclass(frozen=True)
class Syntax:
    suffix: str
    media_type: str
    file_type: str  # the EU file-type authority's code (DCAT-AP's dct:format vocabulary)
    label: str


SYNTAXES = (Syntax("ttl", "text/turtle", "RDF_TURTLE", "Turtle"),
            Syntax("jsonld", "application/ld+json", "JSON_LD", "JSON-LD"),
            Syntax("rdf", "application/rdf+xml", "RDF_XML", "RDF/XML"),
            Syntax("nt", "application/n-triples", "RDF_N_TRIPLES", "N-Triples"))
PARTS = (("ontology", "the ontology (study design, criteria, terminology)"),
         ("shapes", "the SHACL shapes (one per atomic criterion and limit)"))
STANDARDS = {"owl": ("https://www.w3.org/TR/owl2-overview/", "OWL 2 Web Ontology Language"),
             "shacl": ("https://www.w3.org/TR/shacl/", "Shapes Constraint Language (SHACL)"),
             "sparql": ("https://www.w3.org/TR/sparql11-protocol/",
                        "SPARQL 1.1 Protocol")}


def check_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL that can be written as an IRI and in a
    rewrite rule (no spaces, quotes, angle brackets or control characters)."""
    parts = urllib.parse.urlsplit(url)
    return (parts.scheme in ("http", "https") and bool(parts.netloc)
            and not any(c in url for c in ' "<>{}|\\^`') and url.isprintable())


def _header() -> dict[str, object]:
    ontology = publication_graph("ontology")
    subject = URIRef(NAMESPACE)

    def one(predicate):
        return ontology.value(subject, predicate)

    return {"title": one(DCTERMS.title), "description": one(DCTERMS.description),
            "creator": one(DCTERMS.creator), "license": one(DCTERMS.license),
            "version": one(OWL.versionInfo), "modified": one(DCTERMS.modified),
            "created": one(DCTERMS.created)}


def dcat_graph(endpoint_url: str = DEFAULT_ENDPOINT, files_url: str = DEFAULT_FILES) -> Graph:
    """The DCAT 3 catalogue of the protocol's data and the verdict endpoint."""
    head = _header()
    files = files_url if files_url.endswith("/") else files_url + "/"
    g = Graph()
    for prefix, space in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("owl", OWL),
                          ("xsd", XSD), ("filetype", FILE_TYPE)):
        g.bind(prefix, space)
    catalog, dataset = URIRef(f"{NAMESPACE}/catalog"), URIRef(f"{NAMESPACE}/dataset")
    service = URIRef(f"{NAMESPACE}/service/sparql")
    publisher = URIRef(f"{NAMESPACE}/publisher")
    licence = URIRef(str(head["license"]))
    version = Literal(str(head["version"]))
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(str(head["creator"]), lang="en")))
    g.add((licence, RDF.type, DCTERMS.LicenseDocument))
    for iri, title in STANDARDS.values():
        g.add((URIRef(iri), RDF.type, DCTERMS.Standard))
        g.add((URIRef(iri), DCTERMS.title, Literal(title, lang="en")))

    def described(node, title: str, description: str) -> None:
        g.add((node, DCTERMS.title, Literal(title, lang="en")))
        g.add((node, DCTERMS.description, Literal(description, lang="en")))
        g.add((node, DCTERMS.publisher, publisher))
        g.add((node, DCTERMS.license, licence))

    g.add((catalog, RDF.type, DCAT.Catalog))
    described(catalog, f"{head['title']}: catalogue",
              "The protocol's ontology and SHACL shapes, and the SPARQL endpoint that serves "
              "screening verdicts.")
    g.add((catalog, DCAT.dataset, dataset))
    g.add((catalog, DCAT.service, service))
    g.add((catalog, DCTERMS.modified, head["modified"]))

    g.add((dataset, RDF.type, DCAT.Dataset))
    described(dataset, str(head["title"]), str(head["description"]))
    g.add((dataset, OWL.versionInfo, version))
    g.add((dataset, DCAT["version"], version))  # DCAT 3 §6.6.10 (new in 3)
    g.add((dataset, DCTERMS.issued, head["created"]))
    g.add((dataset, DCTERMS.modified, head["modified"]))
    g.add((dataset, DCTERMS.identifier, Literal(NAMESPACE)))
    g.add((dataset, DCAT.landingPage, URIRef(NAMESPACE)))
    g.add((dataset, DCTERMS.conformsTo, URIRef(STANDARDS["owl"][0])))
    g.add((dataset, DCTERMS.conformsTo, URIRef(STANDARDS["shacl"][0])))
    for part, what in PARTS:
        access = URIRef(NAMESPACE if part == "ontology" else f"{NAMESPACE}/{part}")
        for syntax in SYNTAXES:
            node = URIRef(f"{NAMESPACE}/dataset/{part}.{syntax.suffix}")
            media = URIRef(IANA + syntax.media_type)
            g.add((dataset, DCAT.distribution, node))
            g.add((node, RDF.type, DCAT.Distribution))
            g.add((node, DCTERMS.title, Literal(f"{what}, {syntax.label}", lang="en")))
            g.add((node, DCAT.accessURL, access))
            g.add((node, DCAT.downloadURL, URIRef(f"{files}{part}.{syntax.suffix}")))
            g.add((node, DCAT.mediaType, media))
            g.add((media, RDF.type, DCTERMS.MediaType))
            g.add((node, DCTERMS["format"], FILE_TYPE[syntax.file_type]))
            g.add((FILE_TYPE[syntax.file_type], RDF.type, DCTERMS.MediaTypeOrExtent))
            g.add((node, DCTERMS.license, licence))
            g.add((node, DCTERMS.conformsTo,
                   URIRef(STANDARDS["owl" if part == "ontology" else "shacl"][0])))

    endpoint = URIRef(endpoint_url)
    g.add((service, RDF.type, DCAT.DataService))
    described(service, "QL1706 screening verdicts: SPARQL endpoint",
              "Read-only SPARQL 1.1 endpoint (ql1706kg serve) holding the ontology, the shapes "
              "and one named graph per patient assessment; its service description is "
              "answered at the endpoint URL, a VoID description at /.well-known/void.")
    g.add((service, DCAT.endpointURL, endpoint))
    g.add((service, DCAT.endpointDescription, endpoint))
    g.add((service, DCAT.servesDataset, dataset))
    g.add((service, DCTERMS.conformsTo, URIRef(STANDARDS["sparql"][0])))
    g.add((service, DCTERMS.accessRights, Literal(
        "Restricted: the verdicts are patient data; a bearer token is required beyond the "
        "site's own machine.", lang="en")))
    return g


def dcat_turtle(endpoint_url: str = DEFAULT_ENDPOINT, files_url: str = DEFAULT_FILES) -> str:
    return dcat_graph(endpoint_url, files_url).serialize(format="turtle")


# -- w3id.org ----------------------------------------------------------------------------------
def w3id_htaccess(files_url: str = DEFAULT_FILES, docs_url: str | None = None) -> str:
    """The ``.htaccess`` for the ``ql1706kg`` folder of the w3id.org repository: the
    namespace (``https://w3id.org/ql1706kg``, also with ``#term``: the fragment never reaches
    the server) and ``/shapes`` answer each RDF media type with a 303 to the file in that
    syntax under ``files_url``, and HTML (and anything else) with a 303 to the documentation
    (``docs_url``, default ``files_url``'s ``docs/``); ``/catalog`` goes to the DCAT record."""
    files = files_url if files_url.endswith("/") else files_url + "/"
    docs = docs_url or files + "docs/"
    lines = ["# https://w3id.org/ql1706kg: persistent IRIs of the QL1706 protocol ontology",
             "# (written by 'ql1706kg publish --as w3id'; content negotiation, 303 See Other)",
             "Options +FollowSymLinks", "Options -MultiViews", "RewriteEngine on", ""]
    for pattern, part in (("^$", "ontology"), ("^shapes$", "shapes")):
        lines += [f"# {part}: HTML for browsers, unless RDF/XML is preferred",
                  "RewriteCond %{HTTP_ACCEPT} !application/rdf\\+xml.*(text/html|"
                  "application/xhtml\\+xml)",
                  "RewriteCond %{HTTP_ACCEPT} text/html [OR]",
                  "RewriteCond %{HTTP_ACCEPT} application/xhtml\\+xml",
                  f"RewriteRule {pattern} {docs} [R=303,L]", ""]
        for syntax in SYNTAXES:
            accept = syntax.media_type.replace("+", "\\+")
            lines += [f"RewriteCond %{{HTTP_ACCEPT}} {accept}",
                      f"RewriteRule {pattern} {files}{part}.{syntax.suffix} [R=303,L]", ""]
    lines += ["# the files by name, and the DCAT record",
              f"RewriteRule ^(ontology|shapes)\\.(ttl|jsonld|rdf|nt)$ {files}$1.$2 [R=303,L]",
              f"RewriteRule ^catalog$ {files}catalog.ttl [R=303,L]", "",
              "# anything else (and no Accept header): the documentation",
              f"RewriteRule ^(.*)$ {docs} [R=303,L]", ""]
    return "\n".join(lines)
