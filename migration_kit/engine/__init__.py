"""The processes of the spec: prepare, import, export, history and roll back."""
