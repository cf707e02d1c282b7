"""Monitoring: statistics, drift, feature logging, online/offline consistency, freshness and the monitor loop."""
