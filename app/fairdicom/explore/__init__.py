"""The cohort explorer's model: facets, their SPARQL, counting, small cells, charts, cohorts.

:mod:`~fairdicom.explore.facets` declares the facets and reads a selection from a query string;
:mod:`~fairdicom.explore.table` reads the facts of every series (one scan per property, read
by :mod:`~fairdicom.explore.facts`) into one record per series and
:mod:`~fairdicom.explore.tally` counts each facet under every selection but its own;
:mod:`~fairdicom.explore.counts` holds a view's values and counts and checks a selection
against the values the store holds;
:mod:`~fairdicom.explore.sparql` writes the same counts as SPARQL (``queries/*.rq``) for the
page to show, and the query of a cohort's series; :mod:`~fairdicom.explore.cells` protects
small counts; :mod:`~fairdicom.explore.charts` draws SVG and :mod:`~fairdicom.explore.cohort`
turns a selection into downloads and an RDF description. Nothing here runs a query: the web
layer does, through the query service.
"""

from __future__ import annotations
