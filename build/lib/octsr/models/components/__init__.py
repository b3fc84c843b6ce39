"""Plain nn.Modules: (B, 1, H, W) standardized input -> (B, 1, H, W) logits (pre-sigmoid)."""
