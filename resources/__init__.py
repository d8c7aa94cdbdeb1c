"""Dagster resources: thin wrappers that hand Dagster code the platform's own functions."""

from resources.delivery import DeliveryResource, delivery_resource_from_env
from resources.warehouse import WarehouseResource, warehouse_resource_from_env

__all__ = [
    "DeliveryResource",
    "WarehouseResource",
    "delivery_resource_from_env",
    "warehouse_resource_from_env",
]
