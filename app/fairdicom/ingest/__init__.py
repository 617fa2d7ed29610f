"""The ingest use case: DICOM files in, de-identified, mapped, validated RDF in the store."""
