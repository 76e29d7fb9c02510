"""sbrml: secure, Byzantine-robust aggregation (spec + reference + optimized).

Import ``sbrml.reference`` (standard library only) or ``sbrml.optimized`` (NumPy); this
package itself stays light so that the reference tree can be read and run alone.
"""

__version__ = "0.1.0"
SPEC_VERSION = "0.5"
