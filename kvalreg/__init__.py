"""kvalreg: an open data platform for Norwegian national medical quality registries."""
