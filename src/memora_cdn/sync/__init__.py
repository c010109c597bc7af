"""Change tracking: events in, affected plans out, queued and rebuilt."""
