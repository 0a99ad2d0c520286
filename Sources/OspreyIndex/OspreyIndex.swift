// The OspreyIndex module: distance kernels chosen once (VectorDistance), and vector indexes
// behind one protocol (VectorIndex). Formats and design: docs/index.md.
import OspreyCore
