"""Storage under the engine: SQLAlchemy models, connections and versioned migrations."""
