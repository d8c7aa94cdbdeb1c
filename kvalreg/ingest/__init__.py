"""Taking a dump in: decode, read, validate against the codebook, load or quarantine."""
