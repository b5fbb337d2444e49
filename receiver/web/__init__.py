"""HTTP side of failwatch: the webhook, the ops endpoints and the APIs."""
