"""Departments (职能部门) at every level, with the area they serve."""
