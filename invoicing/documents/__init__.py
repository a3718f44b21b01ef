"""The documents an invoice becomes: what the printed page shows (and, later, its PDF and Factur-X)."""
