"""The curator's loop over the store: check, preview, diff and apply (remap) the mappings,
coverage, the vocabulary graph of labels and the mappings graph.

A remap rebuilds each dataset's curated layer from the raw layer inside the store (no DICOM
file needed), re-validates it, and replaces the dataset's graphs in one transaction.
"""
