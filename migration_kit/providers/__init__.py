"""Data provider file types: CSV, Excel and XML files read as schemas and row batches.

Pure file handling, no database: ``get_provider_type(type_for_file(path))`` gives the type;
its ``detect``, ``read_schema``, ``read_batches`` and ``write`` do the work.
"""

from ..values import infer_type
from .base import FieldSchema, ObjectSchema, ProviderType, RowBatch, Schema
from .registry import get_provider_type, provider_types, type_for_file
from .schema import check_size, schema_diff

__all__ = [
    "FieldSchema", "ObjectSchema", "ProviderType", "RowBatch", "Schema", "check_size",
    "get_provider_type", "infer_type", "provider_types", "schema_diff", "type_for_file",
]
