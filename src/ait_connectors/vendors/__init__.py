"""Vendor implementations and their registry."""

from .registry import VendorRegistration, get_vendor, register_vendor, registered_vendors

__all__ = ["VendorRegistration", "get_vendor", "register_vendor", "registered_vendors"]
