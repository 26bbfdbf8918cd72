"""Portico: Kubernetes Service networking on one Linux machine."""
