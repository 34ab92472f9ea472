"""Incidents (事件): reported, dispatched by the responsibility list, escalated, evaluated."""
