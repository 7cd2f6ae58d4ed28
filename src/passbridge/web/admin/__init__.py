"""The admin portal (`/admin`): server-rendered pages for helpdesk staff over the same services as Graph."""
