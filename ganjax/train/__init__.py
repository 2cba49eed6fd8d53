"""Training: the state pytree, the step skeleton, the loop."""
