"""Visit registration (调研报备): units register visits before they happen."""
