"""Sensors (感知设备): readings stream in, rules open alerts, alerts become incidents."""
