"""Small files in the vendors' own layouts, built from the format definitions of the
libraries that read them (eyepy, OCT-Converter): no device's scan is in the repository, so
these are what the vendor readers are tested on."""
