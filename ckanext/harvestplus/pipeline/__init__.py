"""What every harvest does the same way, whatever the kind of remote catalogue."""
