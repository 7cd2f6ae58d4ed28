"""The directory: the tenant, users, groups, roles and application registrations. rules.py (UPNs,
display names, roles and their permissions) is pure; service.py changes and reads users and groups,
access.py checks a principal's permissions, tenant.py initialises the one tenant and apps.py registers
applications; queries.py holds their SQL (docs/architecture.md)."""
