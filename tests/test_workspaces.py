"""Members, teams and API keys through the API."""

from __future__ import annotations

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.anyio

CREATE_MEMBER = """mutation($input: CreateMemberInput!) { createMember(input: $input) {
  member { id email name role isActive } errors { field code message } } }"""
UPDATE_MEMBER = """mutation($input: UpdateMemberInput!) { updateMember(input: $input) {
  member { id name role isActive } errors { field code message } } }"""
CREATE_TEAM = """mutation($input: CreateTeamInput!) { createTeam(input: $input) {
  team { id name members { email } } errors { field code message } } }"""
ADD_TO_TEAM = """mutation($input: TeamMembershipInput!) { addTeamMember(input: $input) {
  team { name members { email } } errors { field code message } } }"""
REMOVE_FROM_TEAM = """mutation($input: TeamMembershipInput!) { removeTeamMember(input: $input) {
  team { name members { email } } errors { field code message } } }"""
CREATE_KEY = """mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
  apiKey { id name scopes expiresAt revokedAt } token errors { field code message } } }"""
REVOKE_KEY = """mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) {
  apiKey { id revokedAt } errors { field code message } } }"""


async def _member(api: Api, email: str, role: str = "REP") -> dict[str, object]:
    data = await api(CREATE_MEMBER, {"input": {"email": email, "name": "Rita Rep", "role": role}})
    assert data["createMember"]["errors"] == []
    return data["createMember"]["member"]  # type: ignore[no-any-return]


async def test_members_are_created_listed_and_validated(api: Api) -> None:
    member = await _member(api, " Rita@Example.com ")
    assert member["email"] == "rita@example.com"
    assert member["role"] == "REP"
    assert member["isActive"] is True

    duplicate = await api(
        CREATE_MEMBER, {"input": {"email": "rita@example.com", "name": "Again", "role": "REP"}}
    )
    assert duplicate["createMember"] == {
        "member": None,
        "errors": [
            {
                "field": ["input", "email"],
                "code": "DUPLICATE",
                "message": "a member with email rita@example.com exists",
            }
        ],
    }
    invalid = await api(CREATE_MEMBER, {"input": {"email": "nope", "name": " ", "role": "REP"}})
    assert [(e["field"], e["code"]) for e in invalid["createMember"]["errors"]] == [
        (["input", "email"], "VALIDATION"),
        (["input", "name"], "VALIDATION"),
    ]
    members = (await api("{ members { email } }"))["members"]
    assert sorted(m["email"] for m in members)[-1] == "rita@example.com"
    assert len(members) == 2  # the admin and Rita


async def test_the_last_active_admin_stays(api: Api) -> None:
    admin = (await api("{ viewer { member { id } } }"))["viewer"]["member"]
    demoted = await api(UPDATE_MEMBER, {"input": {"id": admin["id"], "role": "REP"}})
    assert demoted["updateMember"]["errors"][0]["code"] == "INVALID_STATE"
    deactivated = await api(UPDATE_MEMBER, {"input": {"id": admin["id"], "isActive": False}})
    assert deactivated["updateMember"]["errors"][0]["code"] == "INVALID_STATE"
    assert (await api("{ viewer { member { role isActive } } }"))["viewer"]["member"] == {
        "role": "ADMIN",
        "isActive": True,
    }

    second = await _member(api, "second@example.com", role="ADMIN")
    demoted = await api(UPDATE_MEMBER, {"input": {"id": admin["id"], "role": "MANAGER"}})
    assert demoted["updateMember"]["member"]["role"] == "MANAGER"
    renamed = await api(UPDATE_MEMBER, {"input": {"id": second["id"], "name": "  Sam  "}})
    assert renamed["updateMember"]["member"]["name"] == "Sam"


async def test_teams_and_membership(api: Api) -> None:
    rita = await _member(api, "rita@example.com")
    tom = await _member(api, "tom@example.com")
    created = await api(CREATE_TEAM, {"input": {"name": "Inside", "memberIds": [rita["id"]]}})
    team = created["createTeam"]["team"]
    assert team["members"] == [{"email": "rita@example.com"}]

    added = await api(ADD_TO_TEAM, {"input": {"teamId": team["id"], "memberId": tom["id"]}})
    assert added["addTeamMember"]["team"]["members"] == [
        {"email": "rita@example.com"},
        {"email": "tom@example.com"},
    ]
    twice = await api(ADD_TO_TEAM, {"input": {"teamId": team["id"], "memberId": tom["id"]}})
    assert twice["addTeamMember"]["errors"][0]["code"] == "DUPLICATE"
    removed = await api(REMOVE_FROM_TEAM, {"input": {"teamId": team["id"], "memberId": rita["id"]}})
    assert removed["removeTeamMember"]["team"]["members"] == [{"email": "tom@example.com"}]
    same_name = await api(CREATE_TEAM, {"input": {"name": "inside"}})
    assert same_name["createTeam"]["errors"][0]["code"] == "DUPLICATE"
    assert (await api("{ teams { name } }"))["teams"] == [{"name": "Inside"}]


async def test_api_keys_are_shown_once_and_revocable(api: Api) -> None:
    created = await api(CREATE_KEY, {"input": {"name": "Zapier", "scopes": ["WRITE"]}})
    payload = created["createApiKey"]
    assert payload["errors"] == []
    assert payload["apiKey"]["scopes"] == ["WRITE"]
    integration = api.as_key(payload["token"])
    assert (await integration("{ viewer { scopes member { id } } }"))["viewer"] == {
        "scopes": ["READ", "WRITE"],
        "member": None,
    }
    listed = (await api("{ apiKeys { name } }"))["apiKeys"]
    assert [key["name"] for key in listed] == ["admin", "Zapier"]

    forbidden = await integration.post("{ apiKeys { name } }")
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    revoked = await api(REVOKE_KEY, {"input": {"id": payload["apiKey"]["id"]}})
    assert revoked["revokeApiKey"]["apiKey"]["revokedAt"] is not None
    assert (await integration.post("{ viewer { scopes } }")).status_code == 401
    again = await api(REVOKE_KEY, {"input": {"id": payload["apiKey"]["id"]}})
    assert again["revokeApiKey"]["errors"][0]["code"] == "INVALID_STATE"


async def test_workspace_admin_is_isolated(api: Api, other_api: Api) -> None:
    rita = await _member(api, "rita@example.com")
    team = (await api(CREATE_TEAM, {"input": {"name": "Inside"}}))["createTeam"]["team"]
    key = (await api(CREATE_KEY, {"input": {"name": "k", "scopes": ["READ"]}}))["createApiKey"]
    for mutation, variables, name in [
        (UPDATE_MEMBER, {"id": rita["id"], "name": "Hijacked"}, "updateMember"),
        (ADD_TO_TEAM, {"teamId": team["id"], "memberId": rita["id"]}, "addTeamMember"),
        (REVOKE_KEY, {"id": key["apiKey"]["id"]}, "revokeApiKey"),
        (CREATE_TEAM, {"name": "Mine", "memberIds": [rita["id"]]}, "createTeam"),
        (CREATE_KEY, {"name": "k", "scopes": ["READ"], "memberId": rita["id"]}, "createApiKey"),
    ]:
        result = await other_api(mutation, {"input": variables})
        assert result[name]["errors"][0]["code"] == "NOT_FOUND", name
    assert (await other_api("{ members { email } teams { name } }"))["teams"] == []
    names = {member["name"] for member in (await api("{ members { name } }"))["members"]}
    assert "Rita Rep" in names
    assert "Hijacked" not in names
    assert (await api.as_key(key["token"])("{ viewer { scopes } }"))["viewer"]["scopes"] == ["READ"]


async def test_a_deactivated_members_keys_stop_working(api: Api) -> None:
    # Given a member with a key of their own
    rita = await _member(api, "rita@example.com")
    created = await api(
        CREATE_KEY, {"input": {"name": "Rita's", "scopes": ["WRITE"], "memberId": rita["id"]}}
    )
    ritas_key = api.as_key(created["createApiKey"]["token"])
    assert (await ritas_key("{ viewer { member { email } } }"))["viewer"]["member"] == {
        "email": "rita@example.com"
    }

    # When the member is deactivated, then the key is refused, and no new key can be made
    await api(UPDATE_MEMBER, {"input": {"id": rita["id"], "isActive": False}})
    assert (await ritas_key.post("{ viewer { scopes } }")).status_code == 401
    refused = await api(
        CREATE_KEY, {"input": {"name": "again", "scopes": ["READ"], "memberId": rita["id"]}}
    )
    assert refused["createApiKey"]["errors"] == [
        {
            "field": ["input", "memberId"],
            "code": "INVALID_STATE",
            "message": "the member is inactive and cannot have keys",
        }
    ]

    # And reactivating the member brings the key back
    await api(UPDATE_MEMBER, {"input": {"id": rita["id"], "isActive": True}})
    assert (await ritas_key.post("{ viewer { scopes } }")).status_code == 200


async def test_a_key_cannot_expire_in_the_past(api: Api) -> None:
    result = await api(
        CREATE_KEY,
        {"input": {"name": "late", "scopes": ["READ"], "expiresAt": "2001-01-01T00:00:00Z"}},
    )
    assert result["createApiKey"] == {
        "apiKey": None,
        "token": None,
        "errors": [
            {
                "field": ["input", "expiresAt"],
                "code": "VALIDATION",
                "message": "must be in the future",
            }
        ],
    }
    assert [key["name"] for key in (await api("{ apiKeys { name } }"))["apiKeys"]] == ["admin"]


async def test_member_updates_take_an_expected_version(api: Api) -> None:
    rita = await _member(api, "rita@example.com")
    renamed = await api(UPDATE_MEMBER, {"input": {"id": rita["id"], "name": "Rita R."}})
    assert renamed["updateMember"]["errors"] == []
    stale = await api(
        UPDATE_MEMBER, {"input": {"id": rita["id"], "name": "Stale", "expectedVersion": 1}}
    )
    assert stale["updateMember"]["errors"] == [
        {
            "field": ["input", "expectedVersion"],
            "code": "CONFLICT",
            "message": "the member was changed by someone else: expected version 1, it is 2",
        }
    ]
    unchanged = await api(UPDATE_MEMBER, {"input": {"id": rita["id"], "name": "Rita R."}})
    assert unchanged["updateMember"]["errors"] == []
    names = {member["name"] for member in (await api("{ members { name } }"))["members"]}
    assert "Rita R." in names
    assert "Stale" not in names
