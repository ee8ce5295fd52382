from ait_connectors.testing import conformance_suite

TestKitVendorConformance = conformance_suite("kit_vendor.conformance:KIT")
