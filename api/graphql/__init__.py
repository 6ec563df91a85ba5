"""GraphQL at ``/graphql`` (strawberry): the REST questions as one nested query, over the same services."""
