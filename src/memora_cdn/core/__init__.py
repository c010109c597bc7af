"""The pure core: no database, network, filesystem or clock in here."""
