"""Communities, staff, residents, teams and the authorisation rules between them."""
