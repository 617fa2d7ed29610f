"""fairdicom: DICOM headers to de-identified, validated, FAIR RDF."""

__version__ = "0.1.0"
