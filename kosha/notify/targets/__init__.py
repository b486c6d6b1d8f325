"""Delivery targets, one module per kind, chosen by the scheme of the operator's target URL."""
