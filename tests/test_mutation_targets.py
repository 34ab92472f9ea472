"""Doctests of the pure rule modules, run as tests (mutmut runs test files, not modules)."""

from __future__ import annotations

import doctest

import pytest

import gridgov.evaluation.quadrants
import gridgov.incidents.lifecycle
import gridgov.responsibilities.routing
import gridgov.sensors.rules
import gridgov.supplies.planning

MODULES = [
    gridgov.evaluation.quadrants,
    gridgov.incidents.lifecycle,
    gridgov.responsibilities.routing,
    gridgov.sensors.rules,
    gridgov.supplies.planning,
]


@pytest.mark.parametrize("module", MODULES, ids=[m.__name__ for m in MODULES])
def test_examples_in_the_docstrings(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0
