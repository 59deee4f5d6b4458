from tests.conftest import Api


async def test_viewer(api: Api) -> None:
    data = await api("{ viewer { workspace { name } scopes } pipelines { name stages { name position } } }")
    assert data["viewer"]["workspace"]["name"] == "Acme"
    print(data)


async def test_create_and_move(api: Api) -> None:
    data = await api("{ pipelines { id stages { id name } } }")
    stages = data["pipelines"][0]["stages"]
    created = await api(
        """mutation($input: CreateLeadInput!) { createLead(input: $input) {
            lead { id title version value { amount currency } stage { name } }
            errors { field code message } } }""",
        {"input": {"title": "Big deal", "value": {"amount": "1250.50", "currency": "eur"}}},
    )
    print(created)
    lead = created["createLead"]["lead"]
    moved = await api(
        """mutation($input: MoveLeadInput!) { moveLead(input: $input) {
            lead { id version stage { name } stageHistory { totalCount edges { node { entry exit stage { name } } } } }
            errors { field code message } } }""",
        {"input": {"id": lead["id"], "stageId": stages[2]["id"], "expectedVersion": 1}},
    )
    print(moved)
    listing = await api("{ leads(first: 5) { totalCount edges { cursor node { title owner { name } } } pageInfo { hasNextPage endCursor } } }")
    print(listing)
