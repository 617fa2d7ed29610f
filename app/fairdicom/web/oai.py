"""``/oai``: an OAI-PMH 2.0 repository over the datasets of the DCAT catalogue graph.

Records are the ``dcat:Dataset`` resources of ``{base}graph/catalog`` (read through
:mod:`fairdicom.web.catalog_cache`, parsed once per store generation), identified as
``oai:<host>:<slug>`` and datestamped with their ``dct:modified`` (granularity
``YYYY-MM-DDThh:mm:ssZ``). Formats:
``oai_dc``, ``oai_datacite`` (OpenAIRE Guidelines for Data Archives) and ``dcat_ap`` (the
dataset's DCAT RDF/XML). Sets: ``openaire_data`` (every dataset) and ``access_<level>`` per
access level. Lists are paged by the ``oai_page_size`` setting (default 50); a resumption
token encodes the offset and the arguments of the request. Identify's ``adminEmail`` is the
catalogue publisher's contact email, else the ``oai_admin_email`` setting, else ``admin@<host>``.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

from flask import Blueprint, Response, request
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS

from fairdicom.catalog.graph import CV, DCATAP, HEALTH, SPDX, VCARD, catalog_iri
from fairdicom.namespaces import DataIris
from fairdicom.web.catalog_cache import catalog_graph, closure
from fairdicom.web.protocol import settings

bp = Blueprint("oai", __name__)

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DATACITE = "http://datacite.org/schema/kernel-4"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RDF_NS = str(RDF)
FORMATS = {
    "oai_dc": (OAI_DC, "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"),
    "oai_datacite": (DATACITE, "http://schema.datacite.org/meta/kernel-4.1/metadata.xsd"),
    "dcat_ap": (RDF_NS, "https://semiceu.github.io/DCAT-AP/releases/3.0.1/"),
}
"""Metadata prefix -> (namespace, schema)."""
COAR = {
    "PUBLIC": ("http://purl.org/coar/access_right/c_abf2", "open access"),
    "RESTRICTED": ("http://purl.org/coar/access_right/c_16ec", "restricted access"),
    "NON_PUBLIC": ("http://purl.org/coar/access_right/c_14cb", "closed access"),
}
ALL_SET = "openaire_data"
VERBS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), set()),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}),
}
"""Verb -> (required arguments, optional arguments); resumptionToken is handled apart."""
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PREFIXES = {"oai": OAI, "oai_dc": OAI_DC, "dc": DC, "datacite": DATACITE, "xsi": XSI, "rdf": RDF_NS}
PREFIXES |= {"dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "rdfs": str(RDFS)}
PREFIXES |= {"skos": str(SKOS), "healthdcatap": str(HEALTH), "dcatap": str(DCATAP)}
PREFIXES |= {"cv": str(CV), "vcard": str(VCARD), "spdx": str(SPDX)}
for _prefix, _ns in PREFIXES.items():
    ET.register_namespace(_prefix, _ns)


class OaiError(Exception):
    """Stop a request with an OAI-PMH error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Record:
    """One dataset as an OAI item: slug, node, datestamp and set specs."""

    slug: str
    node: URIRef
    datestamp: str
    sets: tuple[str, ...]


@bp.route("/oai", methods=["GET", "POST"])
def oai() -> Response:
    """Answer one OAI-PMH request with the OAI-PMH XML envelope."""
    root = ET.Element(f"{{{OAI}}}OAI-PMH")
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} {OAI}OAI-PMH.xsd")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ET.SubElement(root, f"{{{OAI}}}responseDate").text = now
    echo = ET.SubElement(root, f"{{{OAI}}}request")
    echo.text = request.base_url
    try:
        args = _arguments()
        for key, value in args.items():
            echo.set(key, value)
        _answer(root, args)
    except OaiError as exc:
        if exc.code in ("badVerb", "badArgument"):
            echo.attrib.clear()
        for partial in list(root)[2:]:
            root.remove(partial)
        ET.SubElement(root, f"{{{OAI}}}error", code=exc.code).text = str(exc)
    body = ET.tostring(root, "utf-8", xml_declaration=True)
    return Response(body, content_type="text/xml; charset=utf-8")


def _arguments() -> dict[str, str]:
    """Check the verb and its arguments; return them as a plain dict."""
    multi = request.form if request.method == "POST" else request.args
    verbs = multi.getlist("verb")
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise OaiError("badVerb", "give exactly one verb of " + ", ".join(VERBS))
    verb = verbs[0]
    required, optional = VERBS[verb]
    args = {"verb": verb}
    for key in multi:
        values = multi.getlist(key)
        if len(values) > 1:
            raise OaiError("badArgument", f"the argument {key} is repeated")
        args[key] = values[0]
    given = set(args) - {"verb"}
    if "resumptionToken" in given and verb in ("ListIdentifiers", "ListRecords", "ListSets"):
        if given != {"resumptionToken"}:
            raise OaiError("badArgument", "resumptionToken is an exclusive argument")
        return args
    if illegal := given - required - optional:
        raise OaiError("badArgument", f"illegal arguments: {', '.join(sorted(illegal))}")
    if missing := required - given:
        raise OaiError("badArgument", f"missing arguments: {', '.join(sorted(missing))}")
    _window(args)
    return args


def _window(args: dict[str, str]) -> tuple[str, str]:
    """Return the ``from``/``until`` bounds as second-granularity datestamps."""
    start, end = args.get("from"), args.get("until")
    for value in (start, end):
        if value is not None and not (DAY.match(value) or SECOND.match(value)):
            raise OaiError("badArgument", f"{value!r} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ")
    if start and end and len(start) != len(end):
        raise OaiError("badArgument", "from and until have different granularities")
    low = start + "T00:00:00Z" if start and DAY.match(start) else start or ""
    high = end + "T23:59:59Z" if end and DAY.match(end) else end or "9999-12-31T23:59:59Z"
    for value in (low, high):
        try:
            datetime.strptime(value or "1970-01-01T00:00:00Z", "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise OaiError("badArgument", f"{value!r} is not a valid date") from None
    if start and end and low > high:
        raise OaiError("badArgument", "from is later than until")
    return low, high


def _answer(root: ET.Element, args: dict[str, str]) -> None:
    verb, graph = args["verb"], catalog_graph()
    body = ET.SubElement(root, f"{{{OAI}}}{verb}")
    if verb == "Identify":
        _identify(body, graph)
    elif verb == "ListMetadataFormats":
        if "identifier" in args:
            _find(graph, args["identifier"])
        for prefix, (namespace, schema) in FORMATS.items():
            fmt = ET.SubElement(body, f"{{{OAI}}}metadataFormat")
            ET.SubElement(fmt, f"{{{OAI}}}metadataPrefix").text = prefix
            ET.SubElement(fmt, f"{{{OAI}}}schema").text = schema
            ET.SubElement(fmt, f"{{{OAI}}}metadataNamespace").text = namespace
    elif verb == "ListSets":
        if "resumptionToken" in args:
            raise OaiError("badResumptionToken", "ListSets is never paged")
        levels = sorted({s for r in _records(graph) for s in r.sets} - {ALL_SET})
        for spec in [ALL_SET, *levels]:
            node = ET.SubElement(body, f"{{{OAI}}}set")
            ET.SubElement(node, f"{{{OAI}}}setSpec").text = spec
            name = "OpenAIRE data" if spec == ALL_SET else spec.replace("_", " ", 1)
            ET.SubElement(node, f"{{{OAI}}}setName").text = name
    elif verb == "GetRecord":
        _format(args["metadataPrefix"])
        record = _find(graph, args["identifier"])
        _record(body, graph, record, args["metadataPrefix"], headers_only=False)
    else:
        _list(body, graph, args)


def _identify(body: ET.Element, graph: Graph) -> None:
    cat = URIRef(catalog_iri(DataIris(settings().base_iri)))
    title = graph.value(cat, DCTERMS.title)
    point = graph.value(graph.value(cat, DCTERMS.publisher), CV.contactPoint)
    email = str(graph.value(point, CV.email) or settings().oai_admin_email)
    stamps = [r.datestamp for r in _records(graph)]
    for name, value in [
        ("repositoryName", str(title or "fairdicom")),
        ("baseURL", request.base_url),
        ("protocolVersion", "2.0"),
        ("adminEmail", email or f"admin@{_host()}"),
        ("earliestDatestamp", min(stamps, default="1970-01-01T00:00:00Z")),
        ("deletedRecord", "no"),
        ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
    ]:
        ET.SubElement(body, f"{{{OAI}}}{name}").text = value


def _list(body: ET.Element, graph: Graph, args: dict[str, str]) -> None:
    verb, offset = args["verb"], 0
    if "resumptionToken" in args:
        args = _decode(args["resumptionToken"])
        offset = int(args.pop("offset"))
    _format(args["metadataPrefix"])
    low, high = _window(args)
    chosen = [
        r
        for r in _records(graph)
        if low <= r.datestamp <= high and ("set" not in args or args["set"] in r.sets)
    ]
    if not chosen:
        raise OaiError("noRecordsMatch", "no records match these arguments")
    size = _page_size()
    if offset >= len(chosen):
        raise OaiError("badResumptionToken", "the resumption token is past the end of the list")
    for record in chosen[offset : offset + size]:
        _record(body, graph, record, args["metadataPrefix"], verb == "ListIdentifiers")
    if offset + size < len(chosen) or offset > 0:
        token = ET.SubElement(body, f"{{{OAI}}}resumptionToken")
        token.set("completeListSize", str(len(chosen)))
        token.set("cursor", str(offset))
        if offset + size < len(chosen):
            state = {k: v for k, v in args.items() if k != "verb"} | {"offset": offset + size}
            token.text = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode(token: str) -> dict[str, str]:
    """Return the arguments and offset a resumption token encodes."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(state, dict) or not isinstance(state.get("offset"), int):
            raise ValueError(token)
        if not isinstance(state.get("metadataPrefix"), str):
            raise ValueError(token)
        if state["offset"] < 0 or set(state) - {"offset", "metadataPrefix", "from", "until", "set"}:
            raise ValueError(token)
        return {k: str(v) for k, v in state.items()}
    except ValueError:
        raise OaiError("badResumptionToken", f"{token!r} is not a valid resumption token") from None


def _page_size() -> int:
    return max(1, settings().oai_page_size)


def _format(prefix: str) -> None:
    if prefix not in FORMATS:
        raise OaiError("cannotDisseminateFormat", f"{prefix!r} is not one of {', '.join(FORMATS)}")


def _host() -> str:
    return urlparse(settings().base_iri).hostname or "localhost"


def _datestamp(value: object) -> str:
    """Return a dct:modified value as ``YYYY-MM-DDThh:mm:ssZ`` in UTC."""
    moment = datetime.fromisoformat(str(value or "1970-01-01"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _records(graph: Graph) -> list[Record]:
    """Return the datasets of the catalogue as records, sorted by slug."""
    records = []
    for node in graph.subjects(RDF.type, DCAT.Dataset):
        rights = graph.value(node, DCTERMS.accessRights)
        level = str(rights).rsplit("/", 1)[-1] if rights else "PUBLIC"
        sets = (ALL_SET, f"access_{level.lower()}")
        slug = str(graph.value(node, DCTERMS.identifier) or str(node).rsplit("/", 1)[-1])
        stamp = _datestamp(graph.value(node, DCTERMS.modified))
        records.append(Record(slug, URIRef(str(node)), stamp, sets))
    return sorted(records, key=lambda r: r.slug)


def _find(graph: Graph, identifier: str) -> Record:
    prefix = f"oai:{_host()}:"
    for record in _records(graph):
        if identifier == prefix + record.slug:
            return record
    raise OaiError("idDoesNotExist", f"{identifier!r} is not an item of this repository")


def _record(
    parent: ET.Element, graph: Graph, record: Record, prefix: str, headers_only: bool
) -> None:
    holder = parent if headers_only else ET.SubElement(parent, f"{{{OAI}}}record")
    header = ET.SubElement(holder, f"{{{OAI}}}header")
    ET.SubElement(header, f"{{{OAI}}}identifier").text = f"oai:{_host()}:{record.slug}"
    ET.SubElement(header, f"{{{OAI}}}datestamp").text = record.datestamp
    for spec in record.sets:
        ET.SubElement(header, f"{{{OAI}}}setSpec").text = spec
    if headers_only:
        return
    metadata = ET.SubElement(holder, f"{{{OAI}}}metadata")
    if prefix == "oai_dc":
        metadata.append(_oai_dc(graph, record))
    elif prefix == "oai_datacite":
        metadata.append(_datacite(graph, record))
    else:
        out = Graph(namespace_manager=graph.namespace_manager)
        cat = URIRef(catalog_iri(DataIris(settings().base_iri)))
        others = set(graph.subjects(RDF.type, DCAT.Dataset)) - {record.node}
        closure(graph, record.node, {cat, *others}, out)
        metadata.append(ET.fromstring(out.serialize(format="xml").encode("utf-8")))


def _texts(graph: Graph, node: URIRef, prop: URIRef) -> list[tuple[str, str | None]]:
    """Return the texts of a property with their language tags, sorted."""
    values = [o for o in graph.objects(node, prop) if isinstance(o, Literal)]
    return sorted((str(o), o.language) for o in values)


def _add(parent: ET.Element, tag: str, text: str, lang: str | None = None, **attrs: str) -> None:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    if lang:
        element.set(XML_LANG, lang)


def _facts(graph: Graph, record: Record) -> dict[str, str]:
    node = record.node
    publisher = graph.value(graph.value(node, DCTERMS.publisher), FOAF.name)
    landing = graph.value(node, DCAT.landingPage)
    rights = graph.value(node, DCTERMS.accessRights)
    issued = graph.value(node, DCTERMS.issued)
    level = str(rights).rsplit("/", 1)[-1] if rights else "PUBLIC"
    return {
        "publisher": str(publisher or "fairdicom"),
        "url": f"{settings().base_iri}catalog/dataset/{record.slug}",
        "landing": str(landing or ""),
        "level": level,
        "rights_label": str(graph.value(rights, RDFS.label) or level) if rights else level,
        "issued": _datestamp(issued) if issued else record.datestamp,
        "licence": str(graph.value(node, DCTERMS.license) or ""),
    }


def _oai_dc(graph: Graph, record: Record) -> ET.Element:
    facts, node = _facts(graph, record), record.node
    dc = ET.Element(f"{{{OAI_DC}}}dc")
    dc.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {FORMATS['oai_dc'][1]}")
    for text, lang in _texts(graph, node, DCTERMS.title):
        _add(dc, f"{{{DC}}}title", text, lang)
    _add(dc, f"{{{DC}}}creator", facts["publisher"])
    for text, lang in _texts(graph, node, DCAT.keyword):
        _add(dc, f"{{{DC}}}subject", text, lang)
    for text, lang in _texts(graph, node, DCTERMS.description):
        _add(dc, f"{{{DC}}}description", text, lang)
    _add(dc, f"{{{DC}}}publisher", facts["publisher"])
    _add(dc, f"{{{DC}}}date", record.datestamp)
    _add(dc, f"{{{DC}}}type", "Dataset")
    _add(dc, f"{{{DC}}}identifier", facts["url"])
    if facts["landing"]:
        _add(dc, f"{{{DC}}}relation", facts["landing"])
    _add(dc, f"{{{DC}}}rights", COAR[facts["level"]][0])
    if facts["licence"]:
        _add(dc, f"{{{DC}}}rights", facts["licence"])
    return dc


def _datacite(graph: Graph, record: Record) -> ET.Element:
    facts, node, ns = _facts(graph, record), record.node, f"{{{DATACITE}}}"
    res = ET.Element(ns + "resource")
    res.set(f"{{{XSI}}}schemaLocation", f"{DATACITE} {FORMATS['oai_datacite'][1]}")
    _add(res, ns + "identifier", facts["url"], identifierType="URL")
    creator = ET.SubElement(ET.SubElement(res, ns + "creators"), ns + "creator")
    _add(creator, ns + "creatorName", facts["publisher"], nameType="Organizational")
    titles = ET.SubElement(res, ns + "titles")
    for text, lang in _texts(graph, node, DCTERMS.title):
        _add(titles, ns + "title", text, lang)
    _add(res, ns + "publisher", facts["publisher"])
    _add(res, ns + "publicationYear", facts["issued"][:4])
    subjects = ET.SubElement(res, ns + "subjects")
    for text, lang in _texts(graph, node, DCAT.keyword):
        _add(subjects, ns + "subject", text, lang)
    dates = ET.SubElement(res, ns + "dates")
    _add(dates, ns + "date", facts["issued"], dateType="Issued")
    _add(dates, ns + "date", record.datestamp, dateType="Updated")
    _add(res, ns + "resourceType", "Dataset", resourceTypeGeneral="Dataset")
    rights = ET.SubElement(res, ns + "rightsList")
    uri, label = COAR[facts["level"]]
    _add(rights, ns + "rights", label, rightsURI=uri)
    if facts["licence"]:
        _add(rights, ns + "rights", facts["licence"], rightsURI=facts["licence"])
    descriptions = ET.SubElement(res, ns + "descriptions")
    for text, lang in _texts(graph, node, DCTERMS.description):
        _add(descriptions, ns + "description", text, lang, descriptionType="Abstract")
    return res
