"""What every page shares: the dashboard's frame (`layout`), form fields, badges and tables
(`elements`), how values are shown (`present`) and keyset paging (`paging`)."""
