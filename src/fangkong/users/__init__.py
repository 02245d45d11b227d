"""users: accounts, their role grants, login sessions and API tokens."""
