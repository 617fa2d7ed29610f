"""Real SPARQL clients against a real ``fairdicom serve``: SPARQLWrapper and rdflib's SPARQLStore.

The store holds the bundled sample, ingested by the CLI. Every answer a client gets is parsed
and compared with the same query run by rdflib on ``fairdicom export`` of that store: an
independent engine on the same data is the oracle, so nothing here repeats what the server
computed. SPARQLWrapper is used with each of its return formats, by GET, by POST form and by
POST of the query itself; it sends ``format=`` (and ``output=``, ``results=``) as well as an
``Accept`` header, so these tests also pin that both mean the same thing.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import rdflib
from fairdicom.resources import SAMPLE
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import Result
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDF,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)

from tests.conftest import run_cli
from tests.servers import free_port, running_server

pytestmark = [
    # SPARQLWrapper 2.0 builds an rdflib ConjunctiveGraph for RDF/XML and JSON-LD answers.
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]

FD = "https://w3id.org/fairdicom/ontology#"
PREFIX = f"PREFIX fd: <{FD}>\n"
SELECTS = {
    "series": PREFIX
    + """SELECT ?series ?modality ?study ?thickness ?description WHERE {
  ?series fd:modality ?modality ; fd:study ?study .
  OPTIONAL { ?series fd:sliceThickness ?thickness }
  OPTIONAL { ?series fd:seriesDescription ?description }
} ORDER BY ?series""",
    "counts": PREFIX
    + """SELECT ?modality (COUNT(DISTINCT ?series) AS ?n) ?note WHERE {
  ?series fd:modality ?modality .
  VALUES ?note { "Žlutý kůň, \\"tab\\"\\there"@cs }
} GROUP BY ?modality ?note""",
}
ASKS = {
    "true": PREFIX + "ASK { ?series a fd:Series ; fd:modality ?modality }",
    "false": PREFIX + 'ASK { ?series fd:modality "no such modality" }',
}
CONSTRUCT = (
    PREFIX
    + """CONSTRUCT { ?series fd:modality ?modality ; fd:study ?study . ?study fd:patient ?patient }
WHERE { ?series fd:modality ?modality ; fd:study ?study . ?study fd:patient ?patient }"""
)
METHODS = ["GET", "POST form", "POST query"]
RESULT_TYPES = {
    JSON: "application/sparql-results+json",
    XML: "application/sparql-results+xml",
    CSV: "text/csv",
    TSV: "text/tab-separated-values",
}
"""SPARQLWrapper's return formats for SELECT and ASK, and the Content-Type each must get."""
GRAPH_TYPES = {
    RDFXML: "application/rdf+xml",
    RDF: "application/rdf+xml",
    XML: "application/rdf+xml",
    TURTLE: "text/turtle",
    N3: "text/n3",
    JSONLD: "application/ld+json",
    JSON: "application/ld+json",
}
"""SPARQLWrapper's return formats for CONSTRUCT and DESCRIBE, and the Content-Type of each."""
ACCEPT_ONLY = {
    "application/n-triples": "nt",
    "text/n3": "n3",
    "application/n-quads": "nquads",
    "application/trig": "trig",
}
"""Media types asked for by ``Accept`` alone (SPARQLWrapper's onlyConneg), with rdflib parsers."""


@dataclass(frozen=True)
class Endpoint:
    """The running server's SPARQL endpoint and the oracle: the same data in rdflib."""

    url: str
    oracle: rdflib.Dataset
    series: rdflib.URIRef


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """Ingest the sample with the CLI, export it for the oracle, then serve it."""
    work = tmp_path_factory.mktemp("sparql-clients")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    config = work / "empty.toml"
    config.write_text("")
    settings = {"store": str(work / "store"), "secret": "clients-secret", "base_iri": base}
    env = {f"FAIRDICOM_{k.upper()}": v for k, v in settings.items()}
    env["FAIRDICOM_CONFIG"] = str(config)
    ingest = run_cli("ingest", str(SAMPLE), "--dataset", "sample", env=env)
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    export = run_cli("export", "--format", "nquads", env=env)
    assert export.returncode == 0, export.stderr
    oracle = rdflib.Dataset(default_union=True)  # the server's default graph is the union too
    oracle.parse(data=export.stdout, format="nquads")
    series = min(oracle.subjects(rdflib.RDF.type, rdflib.URIRef(FD + "Series")))
    assert isinstance(series, rdflib.URIRef)
    with running_server(work, port, {**settings, "query_workers": "1"}):
        yield Endpoint(base + "sparql", oracle, series)


def _wrapper(endpoint: Endpoint, method: str, return_format: str, query: str) -> SPARQLWrapper:
    client = SPARQLWrapper(endpoint.url, returnFormat=return_format)
    client.setQuery(query)
    if method != "GET":
        client.setMethod(POST)
        client.setRequestMethod(URLENCODED if method == "POST form" else POSTDIRECTLY)
    return client


def _term(binding: dict[str, str]) -> rdflib.term.Node:
    """Return the rdflib term of one SPARQL JSON results binding."""
    if binding["type"] == "uri":
        return rdflib.URIRef(binding["value"])
    if binding["type"] == "bnode":
        return rdflib.BNode(binding["value"])
    if "xml:lang" in binding:
        return rdflib.Literal(binding["value"], lang=binding["xml:lang"])
    datatype = binding.get("datatype")
    return rdflib.Literal(binding["value"], datatype=rdflib.URIRef(datatype) if datatype else None)


def _rows(result: Result) -> list[tuple[Any, ...]]:
    """Return the rows of an rdflib result as sorted tuples (None where unbound)."""
    names = result.vars or []
    return sorted((tuple(row[name] for name in names) for row in result), key=repr)  # type: ignore[index]


def _oracle_rows(endpoint: Endpoint, query: str) -> list[tuple[Any, ...]]:
    return _rows(endpoint.oracle.query(query))


def _solutions(return_format: str, converted: Any) -> list[tuple[Any, ...]]:
    """Return the rows a client got, parsed from what SPARQLWrapper handed over."""
    if return_format == JSON:
        names = converted["head"]["vars"]
        rows = converted["results"]["bindings"]
        parsed = [tuple(_term(row[n]) if n in row else None for n in names) for row in rows]
        return sorted(parsed, key=repr)
    if return_format == XML:
        data = converted.toxml("utf-8")
        return _rows(Result.parse(io.BytesIO(data), format="xml"))
    return _rows(Result.parse(io.BytesIO(converted), format="tsv"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("return_format", [JSON, XML, TSV, CSV])
@pytest.mark.parametrize("name", sorted(SELECTS))
def test_sparqlwrapper_select(
    endpoint: Endpoint, name: str, return_format: str, method: str
) -> None:
    query = SELECTS[name]
    result = _wrapper(endpoint, method, return_format, query).query()
    assert result.info()["content-type"].startswith(RESULT_TYPES[return_format])
    converted = result.convert()
    expected = _oracle_rows(endpoint, query)
    assert expected, "the oracle finds rows: the query means something on the sample"
    if return_format == CSV:  # CSV keeps only lexical forms
        text = converted.decode("utf-8")
        header, *lines = list(csv.reader(io.StringIO(text)))
        assert header == [str(v) for v in endpoint.oracle.query(query).vars or []]
        lexical = [tuple("" if term is None else str(term) for term in row) for row in expected]
        assert sorted(map(tuple, lines)) == sorted(lexical)
    else:
        assert _solutions(return_format, converted) == expected


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("return_format", [JSON, XML, TSV, CSV])
@pytest.mark.parametrize("name", sorted(ASKS))
def test_sparqlwrapper_ask(endpoint: Endpoint, name: str, return_format: str, method: str) -> None:
    query = ASKS[name]
    expected = endpoint.oracle.query(query).askAnswer
    assert expected is (name == "true")
    result = _wrapper(endpoint, method, return_format, query).query()
    assert result.info()["content-type"].startswith(RESULT_TYPES[return_format])
    converted = result.convert()
    if return_format == JSON:
        assert converted["boolean"] is expected
    elif return_format == XML:
        assert (
            Result.parse(io.BytesIO(converted.toxml("utf-8")), format="xml").askAnswer is expected
        )
    else:  # SPARQL CSV and TSV define no boolean: the bare word, as Jena and Oxigraph write it
        assert converted.decode().strip() == str(expected).lower()


def _graph(return_format: str, converted: Any) -> rdflib.Graph:
    """Return the graph a client got, parsed from what SPARQLWrapper handed over."""
    graph = rdflib.Graph()
    if isinstance(converted, bytes):
        fmt = "n3" if return_format == N3 else "turtle"
        return graph.parse(data=converted.decode("utf-8"), format=fmt)
    for triple in converted.triples((None, None, None)):
        graph.add(triple)
    return graph


def _oracle_graph(endpoint: Endpoint, query: str) -> rdflib.Graph:
    result = endpoint.oracle.query(query)
    assert result.graph is not None
    graph = rdflib.Graph()
    for triple in result.graph:
        graph.add(triple)
    return graph


def _describe(endpoint: Endpoint) -> str:
    return f"DESCRIBE <{endpoint.series}>"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("return_format", list(GRAPH_TYPES))
@pytest.mark.parametrize("form", ["CONSTRUCT", "DESCRIBE"])
def test_sparqlwrapper_graphs(
    endpoint: Endpoint, form: str, return_format: str, method: str
) -> None:
    query = CONSTRUCT if form == "CONSTRUCT" else _describe(endpoint)
    client = _wrapper(endpoint, method, return_format, query)
    if return_format in (JSON, RDF):  # SPARQLWrapper then sends Accept: */* and says so
        with pytest.warns(RuntimeWarning, match="Accept header"):
            result = client.query()
    else:
        result = client.query()
    assert result.info()["content-type"].startswith(GRAPH_TYPES[return_format])
    got = _graph(return_format, result.convert())
    expected = _oracle_graph(endpoint, query)
    assert len(expected) > 3
    assert isomorphic(got, expected)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("media_type", list(ACCEPT_ONLY))
def test_sparqlwrapper_accept_only(endpoint: Endpoint, media_type: str, method: str) -> None:
    client = _wrapper(endpoint, method, TURTLE, CONSTRUCT)
    client.setOnlyConneg(True)  # no format=: the Accept header alone chooses
    client.addCustomHttpHeader("Accept", media_type)
    response = client.query().response
    assert response.headers["Content-Type"].startswith(media_type)
    parser = ACCEPT_ONLY[media_type]
    data = response.read().decode("utf-8")
    if parser in ("nquads", "trig"):
        dataset = rdflib.Dataset()
        dataset.parse(data=data, format=parser)
        got = rdflib.Graph()
        for s, p, o, _ in dataset.quads((None, None, None, None)):
            got.add((s, p, o))
    else:
        got = rdflib.Graph().parse(data=data, format=parser)
    assert isomorphic(got, _oracle_graph(endpoint, CONSTRUCT))


@pytest.mark.parametrize(
    ("return_format", "query", "offered"),
    [
        (CSV, CONSTRUCT, "text/turtle"),
        (TSV, CONSTRUCT, "text/turtle"),
        (TURTLE, SELECTS["counts"], "application/sparql-results+json"),
        (JSONLD, SELECTS["counts"], "application/sparql-results+json"),
    ],
)
def test_sparqlwrapper_format_of_the_wrong_kind_is_406(
    endpoint: Endpoint, return_format: str, query: str, offered: str
) -> None:
    client = _wrapper(endpoint, "GET", return_format, query)
    with (
        pytest.raises(urllib.error.HTTPError) as caught,
        pytest.warns(RuntimeWarning, match="Accept header"),  # SPARQLWrapper sees it too
    ):
        client.query()
    with caught.value as error:
        assert error.code == 406
        detail = json.loads(error.read())["error"]["detail"]
    assert offered in detail and return_format in detail


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
@pytest.mark.parametrize("return_format", ["xml", "json", "csv", "tsv"])
def test_rdflib_sparqlstore_select(endpoint: Endpoint, return_format: str, method: str) -> None:
    store = SPARQLStore(endpoint.url, returnFormat=return_format, method=method)
    graph = rdflib.Graph(store=store)
    query = SELECTS["series"]
    got = _rows(graph.query(query))
    expected = _oracle_rows(endpoint, query)
    if return_format == "csv":  # rdflib reads CSV cells back as plain literals and IRIs
        got = [tuple(None if t is None else str(t) for t in row) for row in got]
        expected = [tuple(None if t is None else str(t) for t in row) for row in expected]
    assert got == expected


@pytest.mark.parametrize("method", ["GET", "POST", "POST_FORM"])
def test_rdflib_sparqlstore_graph_reads(endpoint: Endpoint, method: str) -> None:
    graph = rdflib.Graph(store=SPARQLStore(endpoint.url, method=method))
    assert isomorphic(graph.query(CONSTRUCT).graph, _oracle_graph(endpoint, CONSTRUCT))
    described = graph.query(_describe(endpoint)).graph
    assert isomorphic(described, _oracle_graph(endpoint, _describe(endpoint)))
    pattern = (endpoint.series, None, None)
    assert set(graph.triples(pattern)) == set(endpoint.oracle.triples(pattern))
    assert graph.query(ASKS["true"]).askAnswer is True


def test_oracle_is_the_whole_store(endpoint: Endpoint) -> None:
    """The oracle holds what the server serves: the same number of triples in the union."""
    client = SPARQLWrapper(endpoint.url, returnFormat=JSON)
    client.setQuery("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    served = int(client.queryAndConvert()["results"]["bindings"][0]["n"]["value"])
    assert served == len(set(endpoint.oracle.triples((None, None, None))))
