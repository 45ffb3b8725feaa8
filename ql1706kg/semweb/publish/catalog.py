"""Records for registries that harvest datasets and resolve persistent identifiers:
``publish --as dcat`` (a DCAT 3 catalogue that conforms to DCAT-AP 3.0.0) and ``publish --as
w3id`` (the ``.htaccess`` of ``https://w3id.org/ql1706kg``).

DCAT 3 (W3C Recommendation, 22 August 2024, https://www.w3.org/TR/vocab-dcat-3/): a
``dcat:Catalog`` (§6.3) of one ``dcat:Dataset`` (§6.6), the protocol's ontology and shapes,
with one ``dcat:Distribution`` (§6.8) per file and syntax (``dcat:accessURL``,
``dcat:downloadURL``, ``dcat:mediaType`` as an IANA media type IRI, ``dct:format``), and the
verdict endpoint as a ``dcat:DataService`` (§6.7: ``dcat:endpointURL``,
``dcat:endpointDescription`` pointing at its SPARQL service description, ``dct:conformsTo``
the SPARQL 1.1 Protocol). DCAT-AP 3.0.0 (https://semiceu.github.io/DCAT-AP/releases/3.0.0/) is
met as its official SHACL shapes judge it, the recommended ones and the class ranges included
(tests/test_registry_records.py runs them): controlled values are IRIs of the EU vocabularies
(data theme, language, access right, file type, planned availability; ADMS licence and
publisher types), each described as a ``skos:Concept`` in its ``skos:ConceptScheme`` so that
the record validates offline; the landing page and homepage are ``foaf:Document``s, the
contact point a ``vcard:Kind``, the coverage a ``dct:Location`` and a ``dct:PeriodOfTime``.
Title, description, licence, creator, version, dates, keywords, theme, language, access rights
and spatial coverage are read from the ontology's header, never restated here.

The w3id rules follow the conventions of the perma-id/w3id.org repository: ``Options
+FollowSymLinks``, ``RewriteEngine on``, one ``RewriteCond %{HTTP_ACCEPT}`` block per media
type with a ``303 See Other`` redirect (W3C, "Cool URIs for the Semantic Web", §4.3), HTML for
browsers first unless RDF/XML is preferred, HTML as the fallback.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, XSD

from ...pipeline.assessment import EARLIEST_AS_OF, LATEST_AS_OF
from ...protocol.terminology import terminology
from .export import publication_graph

NAMESPACE = "https://w3id.org/ql1706kg"
DEFAULT_ENDPOINT = "https://example.org/ql1706kg/sparql"
DEFAULT_FILES = "https://example.org/ql1706kg/"
IANA = "https://www.iana.org/assignments/media-types/"
EU = "http://publications.europa.eu/resource/authority/"
FILE_TYPE = Namespace(EU + "file-type/")
DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 (rdflib's DCAT lacks dcat:version)
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
# The concept schemes of the controlled values used, with their titles, and each concept's
# English label, as their publishers (the EU Publications Office, SEMIC's ADMS) give them.
SCHEMES = {EU + "data-theme": "Data theme", EU + "language": "Language",
           EU + "access-right": "Access right", EU + "file-type": "File type",
           EU + "planned-availability": "Planned availability",
           "http://purl.org/adms/licencetype/1.0": "Licence type",
           "http://purl.org/adms/publishertype/1.0": "Publisher type"}
CONCEPTS = {EU + "data-theme/HEAL": "Health", EU + "language/ENG": "English",
            EU + "access-right/PUBLIC": "public", EU + "access-right/RESTRICTED": "restricted",
            EU + "planned-availability/STABLE": "stable",
            "http://purl.org/adms/licencetype/Attribution": "Attribution",
            "http://purl.org/adms/publishertype/PrivateIndividual(s)": "Private Individual(s)"}
# The developers of an open-source project are no organisation (ADMS publisher type).
PUBLISHER_TYPE = "http://purl.org/adms/publishertype/PrivateIndividual(s)"
# The licences' kinds (ADMS licence type), by licence IRI.
LICENCE_TYPES = {"https://creativecommons.org/licenses/by/4.0/":
                 "http://purl.org/adms/licencetype/Attribution"}
# A place given by its GeoNames IRI: its bounding box and centre in WKT (lon lat, CRS84).
PLACES = {"https://sws.geonames.org/6295630/": (
    "Earth", "POLYGON((-180 90,180 90,180 -90,-180 -90,-180 90))", "POINT(0 0)")}
ENDPOINT_ACCESS = EU + "access-right/RESTRICTED"


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


# Host names reserved for examples and tests (RFC 2606, RFC 6761): an IRI under one of them
# is a placeholder that resolves nowhere.
RESERVED_HOSTS = ("example.org", "example.com", "example.net")
RESERVED_SUFFIXES = (".example", ".test", ".invalid", ".localhost")


def placeholder_host(url: str) -> str | None:
    """The reserved host name of ``url`` if it is a placeholder (``https://example.org/x``),
    else None."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    if host in ("localhost", *RESERVED_HOSTS) or host.endswith(RESERVED_SUFFIXES) or any(
            host.endswith("." + reserved) for reserved in RESERVED_HOSTS):
        return host
    return None


def _header() -> tuple[Graph, URIRef]:
    return publication_graph("ontology"), URIRef(NAMESPACE)


class _Record:
    """The catalogue graph being written, with the helpers that describe its nodes."""

    def __init__(self, files: str) -> None:
        self.ontology, self.head = _header()
        self.g = Graph()
        for prefix, space in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("owl", OWL),
                              ("xsd", XSD), ("skos", SKOS), ("vcard", VCARD), ("dcatap", DCATAP),
                              ("filetype", FILE_TYPE), ("gsp", GSP)):
            self.g.bind(prefix, space)
        self.files = files
        self.publisher = URIRef(f"{NAMESPACE}/publisher")
        self.contact = URIRef(f"{NAMESPACE}/contact")
        self.licence = URIRef(str(self.one(DCTERMS.license)))
        self.docs = URIRef(files + "docs/")

    def one(self, predicate):
        return self.ontology.value(self.head, predicate)

    def all(self, predicate) -> list:
        return sorted(self.ontology.objects(self.head, predicate))

    def add(self, *triple) -> None:
        self.g.add(triple)

    def concept(self, iri: str) -> URIRef:
        """A controlled value, described as a SKOS concept of its scheme."""
        node, scheme = URIRef(iri), iri.rsplit("/", 1)[0]
        if scheme + "/1.0" in SCHEMES:  # ADMS schemes are named .../1.0
            scheme += "/1.0"
        self.add(node, RDF.type, SKOS.Concept)
        self.add(node, SKOS.prefLabel, Literal(CONCEPTS[iri], lang="en"))
        self.add(node, SKOS.inScheme, URIRef(scheme))
        self.add(URIRef(scheme), RDF.type, SKOS.ConceptScheme)
        self.add(URIRef(scheme), DCTERMS.title, Literal(SCHEMES[scheme], lang="en"))
        return node

    def document(self, iri: URIRef, title: str) -> URIRef:
        self.add(iri, RDF.type, FOAF.Document)
        self.add(iri, DCTERMS.title, Literal(title, lang="en"))
        return iri

    def web_resource(self, iri: URIRef) -> URIRef:
        """A URL typed ``rdfs:Resource``, as the class ranges of the release's generated shapes
        (shacl/dcat-ap-SHACL.ttl: ``sh:class rdfs:Resource`` on access, download and endpoint
        URLs) ask of a validator that runs with no RDFS inference."""
        self.add(iri, RDF.type, RDFS.Resource)
        return iri

    def rights(self, iri: str) -> URIRef:
        node = self.concept(iri)
        self.add(node, RDF.type, DCTERMS.RightsStatement)
        return node

    def agents(self) -> None:
        """The publisher (foaf:Agent with its ADMS type), the contact point (vcard), the
        licence (with its ADMS licence type) and the standards conformed to."""
        creator = str(self.one(DCTERMS.creator))
        self.add(self.publisher, RDF.type, FOAF.Agent)
        self.add(self.publisher, FOAF.name, Literal(creator, lang="en"))
        self.add(self.publisher, DCTERMS.type, self.concept(PUBLISHER_TYPE))
        for kind in (VCARD.Kind, VCARD.Organization):
            self.add(self.contact, RDF.type, kind)
        self.add(self.contact, VCARD.fn, Literal(creator, lang="en"))
        self.add(self.contact, VCARD.hasURL, self.docs)
        self.add(self.licence, RDF.type, DCTERMS.LicenseDocument)
        if str(self.licence) in LICENCE_TYPES:
            self.add(self.licence, DCTERMS.type, self.concept(LICENCE_TYPES[str(self.licence)]))
        for iri, title in STANDARDS.values():
            self.add(URIRef(iri), RDF.type, DCTERMS.Standard)
            self.add(URIRef(iri), DCTERMS.title, Literal(title, lang="en"))

    def described(self, node, title: str, description: str) -> None:
        self.add(node, DCTERMS.title, Literal(title, lang="en"))
        self.add(node, DCTERMS.description, Literal(description, lang="en"))
        self.add(node, DCTERMS.publisher, self.publisher)

    def subject(self, node) -> None:
        """Keywords, theme and contact point (a dataset's and a data service's)."""
        for keyword in self.all(DCAT.keyword):
            self.add(node, DCAT.keyword, keyword)
        for theme in self.all(DCAT.theme):
            self.add(node, DCAT.theme, self.concept(str(theme)))
        self.add(node, DCAT.contactPoint, self.contact)

    def places(self, node) -> None:
        for place in self.all(DCTERMS.spatial):
            name, box, centre = PLACES[str(place)]
            self.add(node, DCTERMS.spatial, place)
            self.add(place, RDF.type, DCTERMS.Location)
            self.add(place, SKOS.prefLabel, Literal(name, lang="en"))
            self.add(place, DCAT.bbox, Literal(box, datatype=GSP.wktLiteral))
            self.add(place, DCAT.centroid, Literal(centre, datatype=GSP.wktLiteral))


def dcat_graph(endpoint_url: str = DEFAULT_ENDPOINT, files_url: str = DEFAULT_FILES) -> Graph:
    """The DCAT 3 catalogue of the protocol's data and the verdict endpoint (DCAT-AP 3.0.0)."""
    r = _Record(files_url if files_url.endswith("/") else files_url + "/")
    r.agents()
    catalog, dataset = URIRef(f"{NAMESPACE}/catalog"), URIRef(f"{NAMESPACE}/dataset")
    service = URIRef(f"{NAMESPACE}/service/sparql")
    r.add(catalog, RDF.type, DCAT.Catalog)
    r.described(catalog, f"{r.one(DCTERMS.title)}: catalogue",
                "The protocol's ontology and SHACL shapes, and the SPARQL endpoint that serves "
                "screening verdicts.")
    r.add(catalog, DCTERMS.license, r.licence)
    for prop, value in ((DCAT.dataset, dataset), (DCAT.service, service),
                        (DCTERMS.issued, r.one(DCTERMS.created)),
                        (DCTERMS.modified, r.one(DCTERMS.modified)),
                        (FOAF.homepage, r.document(r.docs, f"{r.one(DCTERMS.title)}: "
                                                   "documentation"))):
        r.add(catalog, prop, value)
    for language in r.all(DCTERMS.language):
        r.add(catalog, DCTERMS.language, r.concept(str(language)))
        r.add(URIRef(str(language)), RDF.type, DCTERMS.LinguisticSystem)
    for theme in r.all(DCAT.theme):
        r.add(catalog, DCAT.themeTaxonomy, URIRef(str(theme).rsplit("/", 1)[0]))
    r.places(catalog)
    _dataset(r, dataset)
    _distributions(r, dataset)
    _service(r, service, dataset, URIRef(endpoint_url))
    return r.g


def _dataset(r: _Record, dataset: URIRef) -> None:
    r.add(dataset, RDF.type, DCAT.Dataset)
    r.described(dataset, str(r.one(DCTERMS.title)), str(r.one(DCTERMS.description)))
    r.add(dataset, DCTERMS.license, r.licence)
    r.add(dataset, DCAT["version"], Literal(str(r.one(OWL.versionInfo))))  # DCAT 3 §6.6.10
    r.add(dataset, DCTERMS.issued, r.one(DCTERMS.created))
    r.add(dataset, DCTERMS.modified, r.one(DCTERMS.modified))
    r.add(dataset, DCTERMS.identifier, Literal(NAMESPACE))
    r.add(dataset, DCAT.landingPage, r.docs)
    for standard in ("owl", "shacl"):
        r.add(dataset, DCTERMS.conformsTo, URIRef(STANDARDS[standard][0]))
    for rights in r.all(DCTERMS.accessRights):
        r.add(dataset, DCTERMS.accessRights, r.rights(str(rights)))
    r.subject(dataset)
    r.places(dataset)
    # The assessment dates the criteria are applied on: the dates `screen --as-of` accepts.
    period = BNode("temporal")
    r.add(dataset, DCTERMS.temporal, period)
    r.add(period, RDF.type, DCTERMS.PeriodOfTime)
    r.add(period, DCAT.startDate, Literal(EARLIEST_AS_OF.isoformat(), datatype=XSD.date))
    r.add(period, DCAT.endDate, Literal(LATEST_AS_OF.isoformat(), datatype=XSD.date))


def _distributions(r: _Record, dataset: URIRef) -> None:
    stable = r.concept(EU + "planned-availability/STABLE")
    for part, what in PARTS:
        access = URIRef(NAMESPACE if part == "ontology" else f"{NAMESPACE}/{part}")
        for syntax in SYNTAXES:
            node = URIRef(f"{NAMESPACE}/dataset/{part}.{syntax.suffix}")
            media, file_type = URIRef(IANA + syntax.media_type), FILE_TYPE[syntax.file_type]
            r.add(dataset, DCAT.distribution, node)
            r.add(node, RDF.type, DCAT.Distribution)
            r.add(node, DCTERMS.title, Literal(f"{what}, {syntax.label}", lang="en"))
            r.add(node, DCTERMS.description, Literal(
                f"{what[0].upper()}{what[1:]} as one {syntax.label} file "
                f"({syntax.media_type}), as `ql1706kg export --what {part}` writes it; its "
                "persistent IRI answers this syntax by content negotiation.", lang="en"))
            r.add(node, DCAT.accessURL, r.web_resource(access))
            download = URIRef(f"{r.files}{part}.{syntax.suffix}")
            r.add(node, DCAT.downloadURL, r.web_resource(download))
            r.add(node, DCAT.mediaType, media)
            r.add(media, RDF.type, DCTERMS.MediaType)
            r.add(node, DCTERMS["format"], file_type)
            r.add(file_type, RDF.type, DCTERMS.MediaTypeOrExtent)
            r.add(file_type, RDF.type, SKOS.Concept)
            r.add(file_type, SKOS.prefLabel, Literal(syntax.label, lang="en"))
            r.add(file_type, SKOS.inScheme, URIRef(EU + "file-type"))
            r.add(URIRef(EU + "file-type"), RDF.type, SKOS.ConceptScheme)
            r.add(URIRef(EU + "file-type"), DCTERMS.title, Literal(SCHEMES[EU + "file-type"],
                                                                   lang="en"))
            r.add(node, DCATAP.availability, stable)
            r.add(node, DCTERMS.license, r.licence)
            r.add(node, DCTERMS.conformsTo,
                  URIRef(STANDARDS["owl" if part == "ontology" else "shacl"][0]))


def _service(r: _Record, service: URIRef, dataset: URIRef, endpoint: URIRef) -> None:
    r.add(service, RDF.type, DCAT.DataService)
    r.described(service, f"{terminology().trial_name} screening verdicts: SPARQL endpoint",
                "Read-only SPARQL 1.1 endpoint (ql1706kg serve) holding the ontology, the shapes "
                "and one named graph per patient assessment; its service description is "
                "answered at the endpoint URL, a VoID description at /.well-known/void. Access "
                "is restricted: the verdicts are patient data, and a bearer token is required "
                "beyond the site's own machine.")
    r.add(service, DCTERMS.license, r.licence)
    r.add(service, DCAT.endpointURL, r.web_resource(endpoint))
    r.add(service, DCAT.endpointDescription, endpoint)
    r.add(service, DCAT.servesDataset, dataset)
    r.add(service, DCTERMS.conformsTo, URIRef(STANDARDS["sparql"][0]))
    r.add(service, DCTERMS.accessRights, r.rights(ENDPOINT_ACCESS))
    r.subject(service)


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
    lines = ["# https://w3id.org/ql1706kg: persistent IRIs of the "
             f"{terminology().trial_name} protocol ontology",
             "# (written by 'ql1706kg publish --as w3id'; content negotiation, 303 See Other)",
             "Options +FollowSymLinks", "Options -MultiViews", "RewriteEngine on", ""]
    version = str(_header()[0].value(URIRef(NAMESPACE), OWL.versionInfo))
    escaped = version.replace(".", "\\.")
    # The version IRI (owl:versionIRI .../VERSION) and its shapes resolve to that version's
    # files, under files_url's VERSION/ folder (the same names `ql1706kg export` writes).
    targets = (("^$", "ontology", ""), ("^shapes$", "shapes", ""),
               (f"^{escaped}$", "ontology", f"{version}/"),
               (f"^{escaped}/shapes$", "shapes", f"{version}/"))
    for pattern, part, folder in targets:
        lines += [f"# {part}: HTML for browsers, unless RDF/XML is preferred",
                  "RewriteCond %{HTTP_ACCEPT} !application/rdf\\+xml.*(text/html|"
                  "application/xhtml\\+xml)",
                  "RewriteCond %{HTTP_ACCEPT} text/html [OR]",
                  "RewriteCond %{HTTP_ACCEPT} application/xhtml\\+xml",
                  f"RewriteRule {pattern} {docs} [R=303,L]", ""]
        for syntax in SYNTAXES:
            accept = syntax.media_type.replace("+", "\\+")
            lines += [f"RewriteCond %{{HTTP_ACCEPT}} {accept}",
                      f"RewriteRule {pattern} {files}{folder}{part}.{syntax.suffix} [R=303,L]",
                      ""]
    lines += ["# the files by name, and the DCAT record",
              f"RewriteRule ^(ontology|shapes)\\.(ttl|jsonld|rdf|nt)$ {files}$1.$2 [R=303,L]",
              "RewriteRule ^([0-9]+\\.[0-9]+\\.[0-9]+)/(ontology|shapes)\\.(ttl|jsonld|rdf|nt)$ "
              f"{files}$1/$2.$3 [R=303,L]",
              f"RewriteRule ^catalog$ {files}catalog.ttl [R=303,L]", "",
              "# anything else (and no Accept header): the documentation",
              f"RewriteRule ^(.*)$ {docs} [R=303,L]", ""]
    return "\n".join(lines)
