// The query page: run the editor's SPARQL query against the endpoint, show the results.
// Plain browser JavaScript, no dependencies; the page works offline.
(function () {
  "use strict";

  var MAX_SHOWN_ROWS = 2000;
  var NUMERIC = /#(integer|decimal|double|float|long|int|short|byte|nonNegativeInteger|positiveInteger|unsignedInt|unsignedLong)$/;
  var XSD = "http://www.w3.org/2001/XMLSchema#";
  var LINKABLE = /^https?:\/\//i;

  var page = document.getElementById("query-page");
  var form = document.getElementById("query-form");
  var editor = document.getElementById("query");
  var gutter = document.getElementById("line-numbers");
  var statusBox = document.getElementById("status");
  var errorBox = document.getElementById("error");
  var results = document.getElementById("results");
  var exampleList = document.getElementById("example-list");
  var sparqlUrl = page.dataset.sparqlUrl;
  // IRIs the store mints ({base_iri}id/...) link to their page on this server, whatever
  // host name the base IRI has (a proxy's, or localhost while the page came from 127.0.0.1).
  var dataBase = (page.dataset.baseIri || "") + "id/";
  var idPath = page.dataset.idPath || "/id/";
  var projectPrefixes = JSON.parse(document.getElementById("prefix-data").textContent);
  var examples = JSON.parse(document.getElementById("example-data").textContent);
  var running = null;
  var tokenBox = document.getElementById("token");

  // Sign-in: an access token pasted into the field, or handed over in the address's fragment
  // (#access_token=..., as an OpenID Connect login redirect returns it), kept in this tab's
  // session storage and sent as "Authorization: Bearer" with each query; never in a URL.
  var TOKEN_KEY = "fairdicom.accessToken";
  var handed = new URLSearchParams(location.hash.replace(/^#/, "")).get("access_token");
  if (handed) {
    sessionStorage.setItem(TOKEN_KEY, handed);
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (tokenBox) {
    tokenBox.value = sessionStorage.getItem(TOKEN_KEY) || "";
    tokenBox.addEventListener("input", function () {
      var value = tokenBox.value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    });
  }
  function withToken(headers) {
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return headers;
  }

  // Editor: line numbers that follow the text and its scrolling.
  function updateLineNumbers() {
    var lines = editor.value.split("\n").length;
    var numbers = [];
    for (var i = 1; i <= lines; i++) numbers.push(i);
    gutter.textContent = numbers.join("\n");
    gutter.scrollTop = editor.scrollTop;
  }

  // Download links: the current query in each result format.
  function updateDownloads() {
    var links = document.querySelectorAll("#downloads a[data-format]");
    for (var i = 0; i < links.length; i++) {
      var params = new URLSearchParams({ query: editor.value, format: links[i].dataset.format });
      links[i].href = sparqlUrl + "?" + params.toString();
    }
  }

  function editorChanged() {
    updateLineNumbers();
    updateDownloads();
  }

  // The prefixes for showing IRIs compactly: the project's, then those the query declares.
  function prefixesOf(query) {
    var map = {};
    Object.keys(projectPrefixes).forEach(function (name) { map[name] = projectPrefixes[name]; });
    var declared = /PREFIX\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>/gi;
    var match;
    while ((match = declared.exec(query)) !== null) map[match[1] || ""] = match[2];
    return Object.keys(map)
      .map(function (name) { return { name: name, iri: map[name] }; })
      .sort(function (a, b) { return b.iri.length - a.iri.length; });
  }

  function compact(iri, prefixes) {
    for (var i = 0; i < prefixes.length; i++) {
      var p = prefixes[i];
      if (p.iri && iri.indexOf(p.iri) === 0) {
        var local = iri.slice(p.iri.length);
        if (/^[A-Za-z0-9_]([\w.-]*[\w-])?$/.test(local) || local === "") return p.name + ":" + local;
      }
    }
    return "<" + iri + ">";
  }

  function queryForm(query) {
    var body = query
      .replace(/#[^\n]*/g, " ")
      .replace(/\b(PREFIX\s+[\w.-]*:\s*<[^>]*>|BASE\s*<[^>]*>)/gi, " ");
    var match = /\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b/i.exec(body);
    return match ? match[1].toUpperCase() : "SELECT";
  }

  // Rendering of one RDF term of a SPARQL JSON result. An IRI is one line: compact
  // (prefix:local, or "kind key" for the store's own resources), cut with an ellipsis when
  // long, the full IRI in its title.
  function termNode(term, prefixes) {
    if (!term) return document.createTextNode("");
    if (term.type === "uri") {
      var local = dataBase !== "id/" && term.value.indexOf(dataBase) === 0;
      // Only web IRIs become links: javascript:, data: and the like are shown as text.
      var node = document.createElement(local || LINKABLE.test(term.value) ? "a" : "span");
      node.className = "iri";
      if (node.tagName === "A") node.href = local ? idPath + term.value.slice(dataBase.length) : term.value;
      node.title = term.value;
      node.dataset.iri = term.value;
      node.textContent = local ? term.value.slice(dataBase.length).replace("/", " ") : compact(term.value, prefixes);
      return node;
    }
    if (term.type === "bnode") return document.createTextNode("_:" + term.value);
    var span = document.createElement("span");
    span.className = "literal";
    span.textContent = term.value;
    if (term["xml:lang"]) {
      span.appendChild(suffix("@" + term["xml:lang"]));
    } else if (term.datatype && !NUMERIC.test(term.datatype) && term.datatype !== XSD + "string") {
      span.appendChild(suffix("^^" + compact(term.datatype, prefixes)));
    }
    return span;
  }

  function suffix(text) {
    var small = document.createElement("span");
    small.className = "datatype";
    small.textContent = text;
    return small;
  }

  function isNumeric(term) {
    return term && term.type !== "uri" && term.datatype && NUMERIC.test(term.datatype);
  }

  function renderTable(data, prefixes) {
    var vars = data.head.vars || [];
    var rows = data.results.bindings;
    var table = document.createElement("table");
    table.id = "results-table";
    table.dataset.rows = String(rows.length);
    var caption = document.createElement("caption");
    caption.textContent = rows.length > MAX_SHOWN_ROWS
      ? "First " + MAX_SHOWN_ROWS + " of " + rows.length + " rows; download the results for all."
      : "Query results";
    table.appendChild(caption);
    var head = table.createTHead().insertRow();
    vars.forEach(function (name) {
      var th = document.createElement("th");
      th.scope = "col";
      th.textContent = "?" + name;
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.slice(0, MAX_SHOWN_ROWS).forEach(function (row) {
      var tr = body.insertRow();
      vars.forEach(function (name) {
        var cell = tr.insertCell();
        if (isNumeric(row[name])) cell.className = "number";
        cell.appendChild(termNode(row[name], prefixes));
      });
    });
    results.appendChild(table);
    addLabels(table);
    return rows.length;
  }

  // Labels next to IRIs: one query for the rdfs:label or skos:prefLabel of the IRIs shown
  // (the store's vocabulary graph labels every concept), English or untagged preferred;
  // table.dataset.labels says when it is done.
  var MAX_LABELLED = 200;
  function rank(lang) { return lang === "en" ? 0 : lang === "" ? 1 : /^en-/.test(lang) ? 2 : 3; }
  function addLabels(table) {
    var nodes = table.querySelectorAll("tbody [data-iri]");
    var iris = [];
    nodes.forEach(function (node) {
      var iri = node.dataset.iri;
      if (iris.indexOf(iri) < 0 && iris.length < MAX_LABELLED && !/[\s<>"{}|^`\\]/.test(iri)) iris.push(iri);
    });
    if (!iris.length) { table.dataset.labels = "none"; return; }
    var query = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" +
      "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n" +
      "SELECT DISTINCT ?iri ?label WHERE { VALUES ?iri { " +
      iris.map(function (iri) { return "<" + iri + ">"; }).join(" ") +
      " } GRAPH ?g { ?iri rdfs:label|skos:prefLabel ?label } FILTER(isLiteral(?label)) } LIMIT 2000";
    fetch(sparqlUrl + "?format=json", {
      method: "POST",
      headers: withToken({ "Content-Type": "application/x-www-form-urlencoded", Accept: "application/sparql-results+json" }),
      body: new URLSearchParams({ query: query }).toString()
    })
      .then(function (response) { return response.ok ? response.json() : { results: { bindings: [] } }; })
      .then(function (data) {
        var labels = {};
        data.results.bindings.forEach(function (row) {
          var lang = (row.label["xml:lang"] || "").toLowerCase();
          var known = labels[row.iri.value];
          if (!known || rank(lang) < known.rank) labels[row.iri.value] = { text: row.label.value, rank: rank(lang) };
        });
        nodes.forEach(function (node) {
          var found = labels[node.dataset.iri];
          if (found === undefined) return;
          var label = document.createElement("span");
          label.className = "label";
          label.textContent = " (" + found.text + ")";
          node.parentNode.insertBefore(label, node.nextSibling);
        });
        table.dataset.labels = "done";
      })
      .catch(function () { table.dataset.labels = "failed"; });
  }

  function renderBoolean(value) {
    var p = document.createElement("p");
    p.className = "boolean";
    p.id = "results-boolean";
    p.textContent = value ? "true" : "false";
    results.appendChild(p);
  }

  function renderText(text) {
    var pre = document.createElement("pre");
    pre.className = "graph";
    pre.textContent = text;
    results.appendChild(pre);
    return text.split("\n").filter(function (line) { return line.trim(); }).length;
  }

  function showError(title, detail) {
    errorBox.hidden = false;
    errorBox.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = title;
    errorBox.appendChild(strong);
    if (detail) {
      var pre = document.createElement("pre");
      pre.textContent = detail;
      errorBox.appendChild(pre);
    }
    results.dataset.state = "error";
  }

  function errorOf(response, text) {
    try {
      var error = JSON.parse(text).error;
      if (error) return { title: (error.title || "Error") + " (" + (error.status || response.status) + ")", detail: error.detail || "" };
    } catch (ignored) { /* not a JSON error body */ }
    return { title: "HTTP " + response.status + " " + response.statusText, detail: text.slice(0, 2000) };
  }

  function formatMs(ms) {
    return ms < 1000 ? Math.round(ms) + " ms" : (ms / 1000).toFixed(2) + " s";
  }

  function run() {
    var query = editor.value;
    var kind = queryForm(query);
    var graph = kind === "CONSTRUCT" || kind === "DESCRIBE";
    if (running) running.abort();
    var controller = new AbortController();
    running = controller;
    results.textContent = "";
    results.dataset.state = "running";
    results.setAttribute("aria-busy", "true");
    errorBox.hidden = true;
    statusBox.textContent = "Running…";
    var started = performance.now();
    var url = graph ? sparqlUrl : sparqlUrl + "?format=json";
    fetch(url, {
      method: "POST",
      headers: withToken({
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: graph ? "application/n-triples, text/turtle;q=0.9" : "application/sparql-results+json"
      }),
      body: new URLSearchParams({ query: query }).toString(),
      signal: controller.signal
    })
      .then(function (response) {
        return response.text().then(function (text) { return { response: response, text: text }; });
      })
      .then(function (answer) {
        var elapsed = formatMs(performance.now() - started);
        if (!answer.response.ok) {
          var error = errorOf(answer.response, answer.text);
          statusBox.textContent = "The query failed after " + elapsed + ".";
          showError(error.title, error.detail);
          return;
        }
        var count;
        var cut = answer.response.headers.get("Fairdicom-Truncated");
        var note = cut ? " The endpoint stopped at " + cut + " rows (its max_rows setting)." : "";
        if (graph) {
          count = renderText(answer.text);
          statusBox.textContent = count + (count === 1 ? " triple" : " triples") + " in " + elapsed + "." + note;
        } else {
          var data = JSON.parse(answer.text);
          if (typeof data.boolean === "boolean") {
            renderBoolean(data.boolean);
            statusBox.textContent = "Answer: " + data.boolean + " (" + elapsed + ").";
          } else {
            count = renderTable(data, prefixesOf(query));
            statusBox.textContent = count + (count === 1 ? " row" : " rows") + " in " + elapsed + "." + note;
          }
        }
        results.dataset.state = "done";
      })
      .catch(function (problem) {
        if (problem.name === "AbortError") return;
        statusBox.textContent = "The query could not be run.";
        showError("Could not read the answer of the SPARQL endpoint", String(problem));
      })
      .finally(function () {
        if (running === controller) {
          running = null;
          results.removeAttribute("aria-busy");
        }
      });
  }

  // Example queries: fill the editor without leaving the page.
  function loadExample(slug, link) {
    editor.value = examples[slug];
    editorChanged();
    var current = exampleList.querySelectorAll("[aria-current]");
    for (var i = 0; i < current.length; i++) current[i].removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
    history.replaceState(null, "", "?" + new URLSearchParams({ example: slug }).toString());
    statusBox.textContent = "Loaded the example “" + link.textContent + "”. Run it with the Run query button.";
    editor.focus();
    editor.setSelectionRange(0, 0);
    editor.scrollTop = 0;
  }

  exampleList.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-example]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || !(link.dataset.example in examples)) return;
    event.preventDefault();
    loadExample(link.dataset.example, link);
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });
  editor.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });
  editor.addEventListener("input", editorChanged);
  editor.addEventListener("scroll", function () { gutter.scrollTop = editor.scrollTop; });

  editorChanged();
  if (page.dataset.run === "true") run();
}());
