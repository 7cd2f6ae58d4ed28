"""OAuth 2.0 and OpenID Connect edge: discovery, keys, token endpoint (Authlib underneath)."""
