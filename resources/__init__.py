"""Dagster resources: thin wrappers that hand Dagster code the platform's own functions."""

from resources.warehouse import WarehouseResource, warehouse_resource_from_env

__all__ = ["WarehouseResource", "warehouse_resource_from_env"]
