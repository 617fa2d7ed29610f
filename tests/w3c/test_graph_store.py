"""The W3C SPARQL 1.1 Graph Store HTTP Protocol tests (rdf-tests http-rdf-update).

The official cases form one sequence (each starts from the store the previous left); here
each case first sets up that state itself, so any one runs alone. ``/store/person/1.ttl``
is the graph ``$BASE$store/person/1.ttl`` (direct identification).
"""

from __future__ import annotations

import pytest

from tests.w3c.harness import Check, Reply, Server, Step, graph, media, no_body, status

TURTLE = {"Content-Type": "text/turtle; charset=utf-8"}
ACCEPT = {"Accept": "text/turtle"}
PREFIXES = (
    "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
    "@prefix v: <http://www.w3.org/2006/vcard/ns#> .\n"
)
CARD = "<$BASE$store/person/{n}> a foaf:Person; foaf:businessCard [ a v:VCard; {name} ] ."
JOHN = PREFIXES + CARD.format(n=1, name='v:fn "John Doe"')
JANE = PREFIXES + CARD.format(n=1, name='v:fn "Jane Doe"')
ALICE = PREFIXES + CARD.format(n=2, name='v:given-name "Alice"')
JANE_NAMED = PREFIXES + '<$BASE$store/person/1> foaf:name "Jane Doe" .'
NEW_PERSON = PREFIXES + '[] a foaf:Person; foaf:businessCard [ a v:VCard; v:given-name "Alice" ] .'
BOUNDARY = "a6fe4cd636164618814be9f8d3d1a0de"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
PARTS = (
    "".join(
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}.ttl"; filename="{name}.ttl"\r\n'
        "Content-Type: text/turtle; charset=utf-8\r\n\r\n"
        f'{PREFIXES}<$BASE$store/person/1> foaf:{name} "{value}" .\r\n'
        for name, value in (("familyName", "Doe"), ("givenName", "Jane"))
    )
    + f"--{BOUNDARY}--\r\n"
)
MERGED = JANE + "\n" + JANE_NAMED.split("\n", 2)[2]
MULTIPART_MERGED = (
    MERGED + '\n<$BASE$store/person/1> foaf:familyName "Doe"; foaf:givenName "Jane" .'
)
PERSON_1 = "/store/person/1.ttl"
PERSON_2 = "/store/person/2.ttl"


def _delete(path: str) -> Step:
    return Step("DELETE", path, admin=True)


def _put(path: str, body: str, *checks: Check) -> Step:
    return Step("PUT", path, body, TURTLE, admin=True, checks=checks)


def _get(path: str, expected: str) -> Step:
    return Step(
        "GET", path, headers=ACCEPT, checks=(status(200), media("text/turtle"), graph(expected))
    )


def _post(path: str, body: str, headers: dict[str, str], *codes: int) -> Step:
    return Step("POST", path, body, headers, admin=True, checks=(status(*codes),) if codes else ())


def _location_is_absolute(reply: Reply) -> None:
    assert reply.headers.get("location", "").startswith(reply.base + "store/"), reply.headers


INITIAL = (_delete(PERSON_1), _put(PERSON_1, JOHN))
REPLACED = (*INITIAL, _put(PERSON_1, JANE))
POSTED = (*REPLACED, _post(PERSON_1, JANE_NAMED, TURTLE))
CREATED = (Step("POST", "/store", NEW_PERSON, TURTLE, admin=True),)
CASES: dict[str, tuple[Step, ...]] = {
    "PUT - Initial state": (_delete(PERSON_1), _put(PERSON_1, JOHN, status(201))),
    "GET of PUT - Initial state": (*INITIAL, _get(PERSON_1, JOHN)),
    "PUT - graph already in store": (*INITIAL, _put(PERSON_1, JANE, status(204))),
    "GET of PUT - graph already in store": (*REPLACED, _get(PERSON_1, JANE)),
    "PUT - default graph": (_put("/store?default", ALICE, status(201, 204)),),
    "GET of PUT - default graph": (_put("/store?default", ALICE), _get("/store?default", ALICE)),
    "PUT - mismatched payload": (
        *INITIAL,
        Step(
            "PUT",
            PERSON_1,
            "<rdf:RDF>not turtle</rdf:RDF>",
            TURTLE,
            admin=True,
            checks=(status(400),),
        ),
        _get(PERSON_1, JOHN),
    ),
    "PUT - empty graph": (_delete(PERSON_2), _put(PERSON_2, "", status(201))),
    "GET of PUT - empty graph": (_delete(PERSON_2), _put(PERSON_2, ""), _get(PERSON_2, "")),
    "DELETE - existing graph": (
        _put(PERSON_2, ""),
        Step("DELETE", PERSON_2, admin=True, checks=(status(204),)),
    ),
    "GET of DELETE - existing graph": (
        _put(PERSON_2, ""),
        _delete(PERSON_2),
        Step("GET", PERSON_2, headers=ACCEPT, checks=(status(404),)),
    ),
    "DELETE - non-existent graph": (
        Step("DELETE", "/store/person/4.ttl", admin=True, checks=(status(404),)),
    ),
    "POST - existing graph": (*REPLACED, _post(PERSON_1, JANE_NAMED, TURTLE, 204)),
    "GET of POST - existing graph": (*POSTED, _get(PERSON_1, MERGED)),
    "POST - multipart/form-data": (*POSTED, _post(PERSON_1, PARTS, MULTIPART, 204)),
    "GET of POST - multipart/form-data": (
        *POSTED,
        _post(PERSON_1, PARTS, MULTIPART),
        _get(PERSON_1, MULTIPART_MERGED),
    ),
    "POST - create new graph": (
        Step(
            "POST",
            "/store",
            NEW_PERSON,
            TURTLE,
            admin=True,
            checks=(status(201), _location_is_absolute),
        ),
    ),
    "GET of POST - create new graph": (*CREATED, _get("$LOCATION$", NEW_PERSON)),
    "POST - empty graph to existing graph": (*CREATED, _post("$LOCATION$", "", TURTLE, 204)),
    "GET of POST - after noop": (
        *CREATED,
        _post("$LOCATION$", "", TURTLE),
        _get("$LOCATION$", NEW_PERSON),
    ),
    "HEAD on an existing graph": (
        *INITIAL,
        Step("HEAD", PERSON_1, headers=ACCEPT, checks=(status(200), media("text/turtle"), no_body)),
    ),
    "HEAD on a non-existing graph": (
        Step("HEAD", "/store/person/4.ttl", headers=ACCEPT, checks=(status(404), no_body)),
    ),
}


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
def test_graph_store(server: Server, steps: tuple[Step, ...]) -> None:
    server.run(steps)
