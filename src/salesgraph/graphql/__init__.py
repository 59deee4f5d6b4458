"""The GraphQL layer: schema, context, permissions, loaders, errors, pagination."""
