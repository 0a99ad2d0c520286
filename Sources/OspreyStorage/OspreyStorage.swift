// The OspreyStorage module; see docs/design.md.
