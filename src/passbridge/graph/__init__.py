"""The Microsoft Graph-compatible edge: routes, JSON shapes and Graph's error body."""
