"""Forms (帮我填): indicators over the register and the rest, and the audit of department forms."""
