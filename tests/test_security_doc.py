"""docs/SECURITY.md shows the role table as gridgov/users/roles.py has it."""

from __future__ import annotations

from gridgov.config import PROJECT_ROOT
from gridgov.users.roles import Action, Role, scopes_for

SECURITY = PROJECT_ROOT / "docs" / "SECURITY.md"


def documented_table() -> dict[str, dict[str, str]]:
    """{action: {role: cell}} from the table between the roles markers."""
    text = SECURITY.read_text()
    table = text.split("<!-- roles:start -->")[1].split("<!-- roles:end -->")[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in table.strip().splitlines()
    ]
    header, body = rows[0], rows[2:]
    roles = header[2:]
    return {row[0].strip("`"): dict(zip(roles, row[2:], strict=True)) for row in body}


def test_the_documented_role_table_is_the_one_in_force():
    expected = {
        action.value: {
            role.value: " or ".join(s.value for s in scopes_for(role, action)) or "—"
            for role in Role
        }
        for action in Action
    }
    assert documented_table() == expected
