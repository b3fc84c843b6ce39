"""Networks (`components/`), whole-image inference, and the Lightning training wrapper."""
