"""The W3C SPARQL 1.1 Protocol tests (rdf-tests sparql/sparql11/protocol), one case each.

Each case is self-contained: it loads the data it needs with an update first. The dataset
graphs are named by the kasei.us IRIs of the official tests and live in the store, so a
protocol-specified dataset is made from stored graphs (nothing is fetched from the web).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

from tests.w3c.harness import (
    RDF,
    RESULTS,
    TABLES,
    Check,
    Reply,
    Server,
    Step,
    boolean,
    media,
    status,
)

DATA = "http://kasei.us/2009/09/sparql/data/"
TEST_GRAPH = "http://example.org/protocol-update-dataset-test/"
PREFIXES = "PREFIX dc: <http://purl.org/dc/terms/>\nPREFIX foaf: <http://xmlns.com/foaf/0.1/>\n"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
QUERY = {"Content-Type": "application/sparql-query"}
UPDATE = {"Content-Type": "application/sparql-update"}
JSON = {"Accept": "application/sparql-results+json"}
LOAD = Step(
    "POST",
    "/sparql",
    PREFIXES
    + "CLEAR ALL ; INSERT DATA {\n"
    + "".join(
        f'GRAPH <{DATA}data{n}.rdf> {{ <{DATA}data{n}.rdf> a foaf:Document ; dc:title "{n}" }}\n'
        for n in (1, 2, 3)
    )
    + "}",
    UPDATE,
    admin=True,
)


def _params(query: str, params: dict[str, list[str]]) -> str:
    """Return ``query=...`` (if any) and the dataset parameters (``default_graph_uri``...)."""
    pairs = [("query", query)] if query else []
    pairs += [(key.replace("_", "-"), value) for key, values in params.items() for value in values]
    return urlencode(pairs, quote_via=quote)


def _get(query: str, *checks: Check, **params: list[str]) -> Step:
    return Step("GET", "/sparql?" + _params(query, params), b"", JSON, checks=checks)


def _form(query: str, *checks: Check, **params: list[str]) -> Step:
    return Step("POST", "/sparql", _params(query, params), {**FORM, **JSON}, checks=checks)


def _update(update: str, query: str, **params: list[str]) -> tuple[Step, ...]:
    """Run ``update`` directly (``params`` in the URL), then check that the ASK ``query`` holds."""
    path = "/sparql?" + _params("", params)
    return (
        Step("POST", path, PREFIXES + update, UPDATE, admin=True, checks=(status(204),)),
        _get(PREFIXES + query, status(200), boolean(True)),
    )


def _bindings_are_iris(reply: Reply) -> None:
    rows = json.loads(reply.body)["results"]["bindings"]
    assert rows and all(row["o"]["type"] == "uri" for row in rows), reply.body
    assert all(row["o"]["value"].startswith("http") for row in rows), reply.body


D1, D2, D3 = (f"<{DATA}data{n}.rdf>" for n in (1, 2, 3))
U1, U2, U3 = (f"{DATA}data{n}.rdf" for n in (1, 2, 3))
INSERT_TEST = f"INSERT {{ GRAPH <{TEST_GRAPH}> {{ ?s a dc:BibliographicResource }} }}\n"


def _inserted(*present: str, absent: str = "") -> str:
    """Return an ASK that holds when exactly ``present`` were marked in the test graph."""
    marks = " ".join(f"{s} a dc:BibliographicResource ." for s in present)
    missing = f"FILTER NOT EXISTS {{ {absent} a dc:BibliographicResource }}" if absent else ""
    return f"ASK {{ GRAPH <{TEST_GRAPH}> {{ {marks} {missing} }} }}"


def _bad(method: str, path: str, body: bytes | str, headers: dict[str, str], *codes: int) -> Step:
    return Step(method, path, body, headers, admin=True, checks=(status(*codes),))


THREE_DOCUMENTS = (
    f"CLEAR ALL ; INSERT DATA {{ GRAPH {D1} {{ {D1} a foaf:Document }} "
    f"GRAPH {D2} {{ {D2} a foaf:Document }} GRAPH {D3} {{ {D3} a foaf:Document }} }} ;\n"
)
ASK_EMPTY = "ASK {}"
CASES: dict[str, tuple[Step, ...]] = {
    "query_post_form": (_form(ASK_EMPTY, status(200), media(*RESULTS), boolean(True)),),
    "query_dataset_default_graphs_get": (
        LOAD,
        _get(
            f"ASK {{ {D1} ?p ?o . {D2} ?p ?o }}",
            status(200),
            boolean(True),
            default_graph_uri=[U1, U2],
        ),
    ),
    "query_dataset_default_graphs_post": (
        LOAD,
        _form(
            f"ASK {{ {D1} ?p ?o . {D2} ?p ?o }}",
            status(200),
            boolean(True),
            default_graph_uri=[U1, U2],
        ),
    ),
    "query_dataset_named_graphs_post": (
        LOAD,
        _form(
            f"ASK {{ GRAPH ?g1 {{ {D1} ?p ?o }} GRAPH ?g2 {{ {D2} ?p ?o }} "
            f"FILTER NOT EXISTS {{ GRAPH ?g3 {{ {D3} ?p ?o }} }} }}",
            status(200),
            boolean(True),
            named_graph_uri=[U1, U2],
        ),
    ),
    "query_dataset_named_graphs_get": (
        LOAD,
        _get(
            f"ASK {{ GRAPH ?g1 {{ {D1} ?p ?o }} GRAPH ?g2 {{ {D2} ?p ?o }} "
            f"FILTER NOT EXISTS {{ GRAPH ?g3 {{ {D3} ?p ?o }} }} }}",
            status(200),
            boolean(True),
            named_graph_uri=[U1, U2],
        ),
    ),
    "query_dataset_full": (
        LOAD,
        _get(
            f"ASK {{ {D3} ?p ?o . GRAPH {D1} {{ {D1} ?p ?o }} GRAPH {D2} {{ {D2} ?p ?o }} "
            f"FILTER NOT EXISTS {{ {D1} ?p ?o }} "
            f"FILTER NOT EXISTS {{ GRAPH {D3} {{ ?s ?p ?o }} }} }}",
            status(200),
            boolean(True),
            default_graph_uri=[U3],
            named_graph_uri=[U1, U2],
        ),
    ),
    "query_multiple_dataset": (
        LOAD,
        _get(
            f"ASK FROM {D2} {{ {D1} ?p ?o }}",
            status(200),
            boolean(True),
            default_graph_uri=[U1],
        ),
    ),
    "query_get": (_get(ASK_EMPTY, status(200), media(*RESULTS), boolean(True)),),
    "query_content_type_select": (
        Step(
            "POST",
            "/sparql",
            "SELECT (1 AS ?value) {}",
            QUERY,
            checks=(status(200), media(*TABLES)),
        ),
    ),
    "query_content_type_ask": (
        Step("POST", "/sparql", ASK_EMPTY, QUERY, checks=(status(200), media(*RESULTS))),
    ),
    "query_content_type_describe": (
        Step(
            "POST",
            "/sparql",
            "DESCRIBE <http://example.org/>",
            QUERY,
            checks=(status(200), media(*RDF)),
        ),
    ),
    "query_content_type_construct": (
        Step(
            "POST",
            "/sparql",
            "CONSTRUCT { <http://example.org/s> <http://example.org/p> 1 } WHERE {}",
            QUERY,
            checks=(status(200), media(*RDF)),
        ),
    ),
    "update_dataset_default_graph": _update(
        f"CLEAR ALL ; INSERT DATA {{ GRAPH {D1} {{ {D1} a foaf:Document }} }} ;\n"
        f"{INSERT_TEST} WHERE {{ ?s a foaf:Document }}",
        _inserted(D1),
        using_graph_uri=[U1],
    ),
    "update_dataset_default_graphs": _update(
        f"{THREE_DOCUMENTS} {INSERT_TEST} WHERE {{ ?s a foaf:Document }}",
        _inserted(D1, D2, absent=D3),
        using_graph_uri=[U1, U2],
    ),
    "update_dataset_named_graphs": _update(
        f"{THREE_DOCUMENTS} {INSERT_TEST} WHERE {{ GRAPH ?g {{ ?s a foaf:Document }} }}",
        _inserted(D1, D2, absent=D3),
        using_named_graph_uri=[U1, U2],
    ),
    "update_dataset_full": _update(
        f"{THREE_DOCUMENTS} {INSERT_TEST} WHERE {{ {{ ?s a foaf:Document }} "
        "UNION { GRAPH ?g { ?s a foaf:Document } } }",
        _inserted(D1, D2, absent=D3),
        using_graph_uri=[U1],
        using_named_graph_uri=[U2],
    ),
    "update_post_form": (
        Step("POST", "/sparql", "update=CLEAR%20ALL", FORM, admin=True, checks=(status(204),)),
    ),
    "update_post_direct": (
        Step("POST", "/sparql", "CLEAR ALL", UPDATE, admin=True, checks=(status(204),)),
    ),
    "update_base_uri": (
        Step(
            "POST",
            "/sparql",
            "CLEAR ALL ; INSERT DATA { GRAPH <http://example.org/protocol-base-iri-test/> "
            "{ <http://example.org/s> <http://example.org/p> <test> } }",
            UPDATE,
            admin=True,
            checks=(status(204),),
        ),
        _get(
            "SELECT ?o WHERE { GRAPH <http://example.org/protocol-base-iri-test/> { ?s ?p ?o } }",
            status(200),
            _bindings_are_iris,
        ),
    ),
    "query_post_direct": (
        Step("POST", "/sparql", ASK_EMPTY, {**QUERY, **JSON}, checks=(status(200), boolean(True))),
    ),
    "query_dataset_default_graph": (
        LOAD,
        _get(f"ASK {{ {D1} ?p ?o }}", status(200), boolean(True), default_graph_uri=[U1]),
    ),
    "bad_query_method": (_bad("PUT", "/sparql?query=ASK%20%7B%7D", b"", {}, 405),),
    "bad_multiple_queries": (
        _bad("GET", "/sparql?query=ASK%20%7B%7D&query=SELECT%20%2A%20%7B%7D", b"", {}, 400),
    ),
    "bad_query_wrong_media_type": (
        _bad("POST", "/sparql", ASK_EMPTY, {"Content-Type": "text/plain"}, 415),
    ),
    "bad_query_missing_form_type": (_bad("POST", "/sparql", "query=ASK%20%7B%7D", {}, 415),),
    "bad_query_missing_direct_type": (_bad("POST", "/sparql", ASK_EMPTY, {}, 415),),
    "bad_query_non_utf8": (
        _bad(
            "POST",
            "/sparql",
            ASK_EMPTY.encode("utf-16"),
            {"Content-Type": "application/sparql-query; charset=UTF-16"},
            415,
        ),
    ),
    "bad_query_syntax": (_bad("GET", "/sparql?query=ASK%20%7B", b"", {}, 400),),
    "bad_update_get": (_bad("GET", "/sparql?update=CLEAR%20ALL", b"", {}, 400),),
    "bad_multiple_updates": (
        _bad("POST", "/sparql", "update=CLEAR%20NAMED&update=CLEAR%20DEFAULT", FORM, 400),
    ),
    "bad_update_wrong_media_type": (
        _bad("POST", "/sparql", "CLEAR NAMED", {"Content-Type": "text/plain"}, 415),
    ),
    "bad_update_missing_form_type": (_bad("POST", "/sparql", "update=CLEAR%20NAMED", {}, 415),),
    "bad_update_non_utf8": (
        _bad(
            "POST",
            "/sparql",
            "CLEAR NAMED".encode("utf-16"),
            {"Content-Type": "application/sparql-update; charset=UTF-16"},
            415,
        ),
    ),
    "bad_update_syntax": (_bad("POST", "/sparql", "update=CLEAR%20XYZ", FORM, 400),),
    "bad_update_dataset_conflict": (
        LOAD,
        _bad(
            "POST",
            "/sparql?using-graph-uri=" + quote(U1, safe=""),
            PREFIXES + f"CLEAR ALL ; {INSERT_TEST} USING NAMED {D1} "
            "WHERE { GRAPH ?g { ?s a foaf:Document } }",
            UPDATE,
            400,
        ),
        _get(f"ASK {{ GRAPH {D1} {{ ?s ?p ?o }} }}", status(200), boolean(True)),  # not cleared
    ),
}


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
def test_protocol(server: Server, steps: tuple[Step, ...]) -> None:
    server.run(steps)
