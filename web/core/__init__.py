"""What cuts across the capabilities: auth, errors, limits, parameters, database, queue, OpenAPI, blueprints."""
