// The OspreyQuery module; see docs/design.md.
