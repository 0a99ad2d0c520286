// The OspreyIndex module; see docs/design.md.
import OspreyCore
