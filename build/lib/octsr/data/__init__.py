"""Paired OCT data: reading scans, finding pairs, the paper's protocol, the datamodule."""
