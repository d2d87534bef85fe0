"""Activities and sign-ups: capacity, FIFO waitlist, windows, no-shows."""
