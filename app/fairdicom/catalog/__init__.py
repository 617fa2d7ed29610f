"""The DCAT-AP 3.0.1 + HealthDCAT-AP catalogue of the datasets in the store."""
