"""``/oai``: an OAI-PMH 2.0 repository over the datasets of the DCAT catalogue graph.

Records are the ``dcat:Dataset`` resources of ``{base}graph/catalog`` (read through
:mod:`fairdicom.web.catalog_cache`, parsed once per store generation), identified as
``oai:<host>:<slug>`` and datestamped with their ``dct:modified`` (granularity
``YYYY-MM-DDThh:mm:ssZ``). Formats: ``oai_dc``, ``oai_datacite`` (OpenAIRE Guidelines for Data
Archives, DataCite kernel-4) and ``dcat_ap`` (the dataset's DCAT RDF/XML), written by
:mod:`fairdicom.catalog.oai_metadata`. Sets: ``openaire_data`` (every dataset) and
``access_<level>`` per access level. Lists are paged by the ``oai_page_size`` setting (default
50); a resumption token encodes the offset and the arguments of the request. Identify's
``adminEmail`` is the catalogue publisher's contact email, else the ``oai_admin_email``
setting, else ``admin@<host>``.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import urlparse

from flask import Blueprint, Response, request
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from fairdicom.catalog.graph import CV, catalog_iri
from fairdicom.catalog.oai_metadata import FORMATS, OAI, XSI, Record, datestamp, metadata
from fairdicom.namespaces import DataIris
from fairdicom.web.catalog_cache import catalog_graph
from fairdicom.web.protocol import settings

bp = Blueprint("oai", __name__)

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


class OaiError(Exception):
    """Stop a request with an OAI-PMH error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def _records(graph: Graph) -> list[Record]:
    """Return the datasets of the catalogue as records, sorted by slug."""
    records = []
    for node in graph.subjects(RDF.type, DCAT.Dataset):
        rights = graph.value(node, DCTERMS.accessRights)
        level = str(rights).rsplit("/", 1)[-1] if rights else "PUBLIC"
        sets = (ALL_SET, f"access_{level.lower()}")
        slug = str(graph.value(node, DCTERMS.identifier) or str(node).rsplit("/", 1)[-1])
        stamp = datestamp(graph.value(node, DCTERMS.modified))
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
    holder_metadata = ET.SubElement(holder, f"{{{OAI}}}metadata")
    holder_metadata.append(metadata(graph, DataIris(settings().base_iri), record, prefix))
