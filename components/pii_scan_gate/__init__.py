"""PII scan gate: personal data in the data, the feature names and the pipeline's reports."""
