stale build output
