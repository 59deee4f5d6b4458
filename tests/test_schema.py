"""The schema is a contract: schema.graphql matches the code, and everything is described."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from salesgraph.graphql.schema import export_sdl, schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == export_sdl(), (
        "schema.graphql is out of date: run `salesgraph export-schema > schema.graphql`"
    )


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    undocumented: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            undocumented.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    undocumented.append(f"{name}.{field_name}")
                for argument_name, argument in field.args.items():
                    if not argument.description:
                        undocumented.append(f"{name}.{field_name}({argument_name})")
        elif isinstance(graphql_type, GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    undocumented.append(f"{name}.{field_name}")
        elif isinstance(graphql_type, GraphQLEnumType):
            for value_name, value in graphql_type.values.items():
                if not value.description:
                    undocumented.append(f"{name}.{value_name}")
        else:
            assert isinstance(graphql_type, GraphQLScalarType | GraphQLUnionType)
    assert undocumented == []


def test_naming_conventions() -> None:
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__"):
            continue
        assert name[0].isupper(), name
        if isinstance(graphql_type, GraphQLEnumType):
            assert all(value.isupper() for value in graphql_type.values), name
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name in graphql_type.fields:
                assert field_name[0].islower(), f"{name}.{field_name}"
                assert "_" not in field_name, f"{name}.{field_name}"
    mutation = schema._schema.mutation_type
    assert mutation is not None
    for field_name, field in mutation.fields.items():
        assert list(field.args) == ["input"], field_name
        payload = field.type.of_type if hasattr(field.type, "of_type") else field.type
        assert "errors" in payload.fields, field_name
