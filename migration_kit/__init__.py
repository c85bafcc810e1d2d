"""migration_kit: import and export ERP records by scenarios."""

__version__ = "0.1.0"
