"""Reading images (safely), expanding inputs, and writing results."""
