"""What a campaign did, for people: the CSV report."""
