"""One way to tell people: an in-app inbox per user and signed webhooks with retries."""
