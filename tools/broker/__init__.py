"""Broker administration: least-privilege users for every service and direct publisher."""
