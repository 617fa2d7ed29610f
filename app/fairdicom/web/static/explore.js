// The cohort explorer works without this script (a GET form with an Apply button, plain links
// for the downloads). With it, a changed checkbox applies the selection at once; and a reader
// who signed in (an access token pasted in the query page or handed over as
// #access_token=..., kept in this tab's session storage) gets every view and download with
// "Authorization: Bearer", so that the counts and rows are those the token opens.
"use strict";

(function () {
  var TOKEN_KEY = "fairdicom.accessToken";
  var handed = new URLSearchParams(location.hash.replace(/^#/, "")).get("access_token");
  if (handed) {
    sessionStorage.setItem(TOKEN_KEY, handed);
    history.replaceState(null, "", location.pathname + location.search);
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function address(form) {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (String(value).trim() !== "") params.append(name, value);
    });
    var query = params.toString();
    return form.getAttribute("action") + (query ? "?" + query : "");
  }

  function setStatus(text) {
    var status = document.getElementById("explore-status");
    if (status) status.textContent = text;
  }

  // Fetch a view with the token and put its explorer in place of this one.
  function show(url, push) {
    var root = document.getElementById("explorer");
    root.setAttribute("aria-busy", "true");
    return fetch(url, { headers: { Accept: "text/html", Authorization: "Bearer " + token() } })
      .then(function (answer) {
        return answer.text().then(function (text) {
          if (!answer.ok) throw new Error(answer.status + " " + text.slice(0, 300));
          var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("explorer");
          if (!fresh) throw new Error("the answer holds no explorer");
          if (push) history.pushState(null, "", url);
          root.replaceWith(fresh);
          fresh.setAttribute("data-signed-in", "true");
          fresh.setAttribute("data-view", url);
          setStatus("");
          wire(fresh);
        });
      })
      .catch(function (error) {
        root.removeAttribute("aria-busy");
        setStatus("Could not load the view: " + error.message);
      });
  }

  function download(link) {
    fetch(link.href, { headers: { Authorization: "Bearer " + token() } }).then(function (answer) {
      return answer.blob().then(function (blob) {
        if (!answer.ok) throw new Error(String(answer.status));
        var save = document.createElement("a");
        save.href = URL.createObjectURL(blob);
        save.download = link.pathname.split("/").pop();
        document.body.appendChild(save);
        save.click();
        save.remove();
        setTimeout(function () { URL.revokeObjectURL(save.href); }, 10000);
      });
    }).catch(function (error) {
      setStatus("The download failed: " + error.message);
    });
  }

  function wire(root) {
    var form = root.querySelector("#facets");
    if (!form) return;
    var apply = root.querySelector("#apply");
    if (apply) apply.textContent = "Apply ranges";
    form.addEventListener("change", function (event) {
      if (event.target.type === "checkbox") go(address(form));
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      go(address(form));
    });
    root.addEventListener("click", function (event) {
      var link = event.target.closest("a");
      if (!link || !token() || link.origin !== location.origin) return;
      if (link.pathname.indexOf("/explore/cohort.") !== -1) {
        event.preventDefault();
        download(link);
      } else if (link.pathname === form.getAttribute("action")) {
        event.preventDefault();
        go(link.href);
      }
    });
  }

  function go(url) {
    if (token()) {
      show(url, true);
    } else {
      location.assign(url);
    }
  }

  var root = document.getElementById("explorer");
  if (!root) return;
  var field = document.getElementById("explore-token");
  if (field) {
    field.value = token() || "";
    field.addEventListener("change", function () {
      var value = field.value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
      if (value) show(location.href, false); else location.reload();
    });
  }
  wire(root);
  if (token()) show(location.href, false);
  window.addEventListener("popstate", function () {
    if (token()) show(location.href, false); else location.reload();
  });
})();
