// The OspreyTestSupport module; see docs/design.md.
