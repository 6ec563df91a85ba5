"""The HTTP face of the service: FastAPI app, REST routers, GraphQL wiring."""
