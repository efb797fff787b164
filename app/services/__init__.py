"""Services: database-aware operations on examples, health and datasets (routes and tasks stay thin)."""
